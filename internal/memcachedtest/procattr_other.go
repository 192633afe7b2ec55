//go:build !linux

package memcachedtest

import (
	"os"
	"syscall"
)

// procAttr returns the extra arguments memcached needs when run as root;
// outside Linux there is no parent-death signal to set.
func procAttr() (*syscall.SysProcAttr, []string) {
	if os.Geteuid() == 0 {
		return nil, []string{"-u", "nobody"}
	}
	return nil, nil
}

// proxyAttr returns no process attributes outside Linux: nutcracker runs
// as the caller, without a parent-death signal.
func proxyAttr() (attr *syscall.SysProcAttr, uid, gid int) {
	return nil, -1, -1
}
