//go:build !linux

package bench

import (
	"os"
	"syscall"
)

// memcachedAttr returns the extra arguments memcached needs when run as
// root; outside Linux there is no parent-death signal to set.
func memcachedAttr() (*syscall.SysProcAttr, []string) {
	if os.Geteuid() == 0 {
		return nil, []string{"-u", "nobody"}
	}
	return nil, nil
}
