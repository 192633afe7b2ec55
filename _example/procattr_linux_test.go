package main

import "syscall"

// childProcAttr makes a test's child process die with the test binary, so a
// crashed test run leaves no memcached behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
