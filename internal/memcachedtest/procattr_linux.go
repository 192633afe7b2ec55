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
	cred := nobody()
	if cred == nil {
		return nil, []string{"-u", "nobody"}
	}
	attr.Credential = cred
	return attr, nil
}

// proxyAttr returns the process attributes that make nutcracker die with
// the test binary and, when the tests run as root, run as nobody (it has
// no option of its own to drop privileges). uid and gid are the user it
// runs as, for the files it must write, or -1 when it runs as the caller.
func proxyAttr() (attr *syscall.SysProcAttr, uid, gid int) {
	attr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		return attr, -1, -1
	}
	cred := nobody()
	if cred == nil {
		return attr, -1, -1
	}
	attr.Credential = cred
	return attr, int(cred.Uid), int(cred.Gid)
}

// nobody returns the credentials of the user nobody, or nil when the
// system has none.
func nobody() *syscall.Credential {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
