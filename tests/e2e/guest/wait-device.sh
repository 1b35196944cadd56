# Sourced by guest jobs: wait (60 s at most) until the toolstack has
# attached virtio-grant device $devid to this guest.
devid=${devid:-0}
_i=0
until xenstore-read "device/virtio-grant/$devid/backend-id" >/dev/null 2>&1; do
    _i=$((_i + 1))
    [ $_i -gt 120 ] && { echo "no virtio-grant device $devid after 60 s"; exit 3; }
    sleep 0.5
done
