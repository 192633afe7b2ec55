package memcachedtest

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// procAttr returns the process attributes and extra arguments that make
// memcached die with the test binary, even when a panicking test kills the
// binary before its cleanups run. memcached refuses to run as root; its own
// "-u nobody" would clear the parent-death signal, so as root the process
// starts as nobody instead.
func procAttr() (*syscall.SysProcAttr, []string) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		return attr, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, []string{"-u", "nobody"}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, []string{"-u", "nobody"}
	}
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return attr, nil
}
