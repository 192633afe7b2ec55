//go:build !linux

package ginsession

import "syscall"

// childAttr returns no special attributes outside Linux.
func childAttr() *syscall.SysProcAttr { return nil }
