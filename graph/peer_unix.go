//go:build unix

package graph

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the other end of conn has closed it, without blocking and without
// taking any byte off it: a peek that finds end of file (or an error other than "nothing yet").
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
		return true // done: never wait for the socket to become readable
	})
	return closed || err != nil
}
