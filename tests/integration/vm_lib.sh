# Helpers for the VM tests (sourced after lib.sh): the guest image must be
# built for this build tree (scripts/guest-image.sh; the Makefile does it).
VQNET_BIN=$(dirname "$VQNET")
if [ ! -s "$VQNET_BIN/../guest/initramfs.cpio" ]; then
	"$SRC/scripts/guest-image.sh" "$VQNET_BIN/.." > /dev/null ||
		fail "cannot build the VM guest image"
fi
command -v qemu-system-x86_64 > /dev/null || fail "qemu-system-x86_64 is missing (scripts/deps.sh)"

# a VM's console, for a failure report
console() { tail -20 /run/vqnet/log/"$LAB"."$1".console 2>/dev/null; }
