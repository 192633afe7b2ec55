//go:build unix

package memcachedtest

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// pause freezes the process (SIGSTOP) and returns once it has stopped. The
// signal only asks: on a busy machine a thread may still answer a request
// after kill returns, so pause waits for the stop to be reported, as a
// parent can (wait4 with WUNTRACED, which leaves a stopped child unreaped).
func pause(p *os.Process) error {
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(p.Pid, &ws, syscall.WUNTRACED|syscall.WNOHANG, nil)
		switch {
		case err != nil:
			return fmt.Errorf("wait for the stop: %w", err)
		case pid == p.Pid && ws.Stopped():
			return nil
		case pid == p.Pid:
			return fmt.Errorf("the process ended instead of stopping (%v)", ws)
		case time.Now().After(deadline):
			return errors.New("the process did not stop within " + startTimeout.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// resume lets a paused process carry on (SIGCONT).
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
