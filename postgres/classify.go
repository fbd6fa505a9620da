package postgres

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// ClassifyError tells which errors of PostgreSQL mean that the store cannot serve for now or is
// full (activity.ErrorClassifier). activity.Unavailable: a server that cannot be reached or hung up
// (connection errors, PostgreSQL's class 08 "connection exception", 57P01–57P03 shutting down or
// starting, 53300 too many connections), 40001 and 40P01 serialization failures and deadlocks, which
// a retry resolves, and ErrPoolTimeout, no connection of the pool free in time.
// activity.StorageFull: 53100 disk_full
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func (s *Store) ClassifyError(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100":
			return activity.StorageFull
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03",
			pe.Code == "53300", pe.Code == "40001", pe.Code == "40P01":
			return activity.Unavailable
		}
		return ""
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, ErrPoolTimeout), errors.As(err, &ce), errors.As(err, &ne), pgconn.SafeToRetry(err),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, puddle.ErrClosedPool):
		return activity.Unavailable
	}
	return ""
}
