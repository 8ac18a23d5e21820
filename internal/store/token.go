package store

import (
	"crypto/rand"
	"encoding/hex"
)

// NewToken is a fresh random token naming one holder of a row's claim: a
// payment's lease (LeaseTransaction), a notification batch's claim
// (ClaimNotifications), an M-Pesa request's mark (MarkMpesaSent). 128 bits
// as 32 hex characters, which every engine's column holds.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not return an error; it crashes the program instead
	return hex.EncodeToString(b[:])
}
