# Shared by the CLI test scripts (source it after setting $work and $src).
fail() { echo "FAIL: $*" >&2; exit 1; }
# Waits (up to 60 s) until a file exists: the run is past its start-up.
await() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }
# Writes a sweep file $1 of two endless DQN runs on Catch (seeds 0 and 1).
write_catch_sweep() {
  cat > "$1" <<TOML
[sweep]
configs = ["$src/configs/dqn_catch.toml"]
env = "toy/{game}"
games = ["catch"]
seeds = [0, 1]
set = { "train.total_steps" = 100000000, "train.log_every" = 500 }
[variants.dqn]
TOML
}
