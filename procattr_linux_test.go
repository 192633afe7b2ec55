package ginsession

import "syscall"

// childAttr makes memcached die with the test binary, even when a panicking
// test kills the binary before TestMain can stop it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
