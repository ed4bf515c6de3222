"""Release levels (major, service pack, interim fix) and the lifecycle of roles."""
