# Sourced by scripts that need a private X display (tests, start-up bench).
# start_xvfb FIRST LAST: starts Xvfb on the first free display number in FIRST..LAST,
# exports DISPLAY and sets XVFB_PID (the caller kills it when done).
start_xvfb() {
  local d num=
  for d in $(seq "$1" "$2"); do
    if [ ! -e "/tmp/.X11-unix/X$d" ] && [ ! -e "/tmp/.X$d-lock" ]; then num=$d; break; fi
  done
  [ -n "$num" ] || { echo "no free X display number in $1..$2" >&2; return 1; }
  Xvfb ":$num" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB_PID=$!
  export DISPLAY=":$num"
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$num" ] && break; sleep 0.1; done
}
