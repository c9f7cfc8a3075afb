#!/bin/sh
# Clean power-off of the Umbra lab guest (ACPI power button): stop the service (it fsyncs the
# log under its lock), unmount /data (the filesystem is then clean), power off.
echo "UMBRA-POWEROFF" >/dev/console
[ -f /run/umbra-supervisor.pid ] && kill "$(cat /run/umbra-supervisor.pid)" 2>/dev/null
if [ -f /run/umbra-lab.pid ]; then
  pid=$(cat /run/umbra-lab.pid)
  kill -TERM "$pid" 2>/dev/null
  i=0
  # Wait until it is gone (or a zombie: it was orphaned when its supervisor was killed).
  while [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && [ $i -lt 40 ]; do
    usleep 50000
    i=$((i + 1))
  done
fi
sync
if grep -q ' /data ' /proc/mounts; then
  umount /data 2>/dev/null || mount -o remount,ro /data 2>/dev/null || echo "UMBRA-ERROR cannot unmount /data"
fi
echo "UMBRA-HALT" >/dev/console
poweroff -f
