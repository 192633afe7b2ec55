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
