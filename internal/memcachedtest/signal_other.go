//go:build !unix

package memcachedtest

import (
	"errors"
	"os"
)

// errNoPause is why Pause and Resume fail where a process cannot be frozen.
var errNoPause = errors.New("pausing a process is not supported on this system")

func pause(*os.Process) error  { return errNoPause }
func resume(*os.Process) error { return errNoPause }
