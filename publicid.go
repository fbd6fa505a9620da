package activity

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/binary"
	"fmt"
)

// PublicIDs turns the ids that stores keep into the ids that clients see, and back. A store may
// choose ids that keep a principal's rows together in creation order (SQLite does: a hash of the
// principal and the creation second sit in the high bits); shown as they are, they would tell when an
// activity was made and whose it is. A public id is a keyed permutation of the stored id over the
// positive 63-bit numbers, so it tells nothing without the key, and each stored id has exactly one.
//
// The permutation is Triple DES (crypto/des, a 64-bit block cipher) with cycle walking: a block that
// falls outside the positive 63-bit range is enciphered again until it falls inside (Black and
// Rogaway, "Ciphers with Arbitrary Finite Domains", 2002). Half the blocks are in range, so a few
// rounds suffice on average.
type PublicIDs struct {
	block cipher.Block
}

// PublicIDKeySize is the size in bytes of the key NewPublicIDs wants.
const PublicIDKeySize = 24

// NewPublicIDs returns the permutation keyed by key (PublicIDKeySize bytes).
func NewPublicIDs(key []byte) (*PublicIDs, error) {
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, fmt.Errorf("public ids: %w", err)
	}
	return &PublicIDs{block: block}, nil
}

// Public returns the public id of a stored id (positive).
func (p *PublicIDs) Public(stored int64) int64 { return p.walk(stored, p.block.Encrypt) }

// Stored returns the stored id of a public id (positive).
func (p *PublicIDs) Stored(public int64) int64 { return p.walk(public, p.block.Decrypt) }

func (p *PublicIDs) walk(id int64, step func(dst, src []byte)) int64 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	for {
		step(b[:], b[:])
		if v := binary.BigEndian.Uint64(b[:]); v > 0 && v < 1<<63 {
			return int64(v)
		}
	}
}
