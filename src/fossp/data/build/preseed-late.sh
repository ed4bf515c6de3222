# FOSSP's late command in a Debian installer's target (fossp build preseed writes it to
# /root/fossp-late.sh and runs it with in-target). Debian's installer puts / on one BTRFS
# subvolume (@rootfs) and makes no others; FOSSP's snapshots and restore need @ as the
# default subvolume, @home, @snapshots at /.snapshots and each data folder a subvolume
# nested in @ (a restore of / then keeps the data). No backslash anywhere: the installer's
# debconf would have to carry it through unchanged.
#   sh fossp-late.sh layout ROOT [DATA_FOLDER...]   ROOT: where the installed / is mounted
#   sh fossp-late.sh key ROOT PUBLIC_KEY              root logs in over SSH with its key
#   sh fossp-late.sh boot                             GRUB again, for the renamed root
set -eu

layout() {
  root=$1
  shift
  device=$(findmnt -n -v -o SOURCE --target "$root")
  uuid=$(blkid -s UUID -o value "$device")
  current=$(btrfs subvolume show "$root" | head -n 1)
  case $current in
    / | "<FS_TREE>")
      echo "fossp: $root is the top level of $device, not the installer's subvolume" >&2
      exit 1
      ;;
  esac
  top=$(mktemp -d)
  mount -o subvolid=5 "$device" "$top"
  if [ "$current" != @ ]; then mv "$top/$current" "$top/@"; fi
  btrfs subvolume set-default "$top/@"
  for name in @home @snapshots; do
    if [ ! -e "$top/$name" ]; then btrfs subvolume create "$top/$name"; fi
  done
  fill "$root/home" "$top/@home"
  find "$root/home" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  chmod 750 "$top/@snapshots"
  mkdir -p "$root/.snapshots"
  for folder in "$@"; do nested "$root$folder"; done
  fstab "$root/etc/fstab" "$uuid"
  mkdir -p "$root/etc/default/grub.d"
  {
    echo "# FOSSP: boot the default subvolume (no rootflags=subvol=), so a restore's set-default takes effect"
    echo "GRUB_FS=btrfs-default-subvolume"
  } > "$root/etc/default/grub.d/fossp.cfg"
  umount "$top"
  rmdir "$top"
}

# The contents of folder $1 copied into $2 with owners, modes and times (reflinks: no data copied).
fill() {
  cp -a --reflink=auto "$1/." "$2/"
}

# Folder $1 becomes a subvolume nested in @, keeping what the packages put there.
nested() {
  if btrfs subvolume show "$1" > /dev/null 2>&1; then return 0; fi
  if [ -d "$1" ]; then
    mv "$1" "$1.fossp-old"
    btrfs subvolume create "$1"
    fill "$1.fossp-old" "$1"
    rm -rf "$1.fossp-old"
  else
    mkdir -p "$(dirname "$1")"
    btrfs subvolume create "$1"
  fi
}

# fstab mounts / without subvol= (the default subvolume), @home and @snapshots by UUID.
fstab() {
  awk '$2 != "/" && $2 != "/home" && $2 != "/.snapshots"' "$1" > "$1.fossp-new"
  {
    echo "UUID=$2 / btrfs defaults 0 0"
    echo "UUID=$2 /home btrfs defaults,subvol=@home 0 0"
    echo "UUID=$2 /.snapshots btrfs defaults,subvol=@snapshots 0 0"
  } >> "$1.fossp-new"
  mv "$1.fossp-new" "$1"
}

key() {
  mkdir -p -m 700 "$1/root/.ssh"
  echo "$2" >> "$1/root/.ssh/authorized_keys"
  chmod 600 "$1/root/.ssh/authorized_keys"
}

# grub.cfg and the core image named /@rootfs/boot/grub: both are made again for /@.
boot() {
  update-grub
  grub-install "/dev/$(lsblk -n -o PKNAME "$(findmnt -n -v -o SOURCE --target /)")"
}

command=$1
shift
case $command in
  layout | key | boot) "$command" "$@" ;;
  *)
    echo "fossp: unknown step $command" >&2
    exit 2
    ;;
esac
