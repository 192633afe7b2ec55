package bench

import "syscall"

// childAttr makes memcached die with the test binary, even when the binary
// is killed before TestMain can stop it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
