package testenv

// Kill stops the server abruptly, as a crash or the OOM killer would, and
// leaves it stopped: clients get connection errors until Restart starts it
// again on the same port and directory.
func (r *Redis) Kill() {
	r.t.Helper()
	r.stop()
}
