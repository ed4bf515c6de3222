#!/bin/sh
# What whole-disk image builds and boots need on a Debian 12 controller (run as root;
# idempotent). fdisk gives sfdisk (the GPT), mtools and dosfstools fill the ESP and the
# NoCloud seed without mounting vfat (this kernel may lack it), grub-pc-bin and
# grub-efi-amd64-bin make the BIOS and UEFI loaders, qemu-utils converts to qcow2 and
# qemu-system-x86 boots the image (TCG works where KVM does not), ovmf under UEFI.
set -eu

. "$(dirname "$0")/../lib/apt.sh"
apt_install fdisk mtools dosfstools grub-pc-bin grub-efi-amd64-bin grub2-common qemu-system-x86 qemu-utils ovmf openssh-client
