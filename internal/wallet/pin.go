package wallet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params tune the PIN hash. A 4-6 digit PIN has at most a million
// values, so no hash makes a stolen table safe by itself: the online lockout
// protects PINs, and the pepper (a server secret mixed in before hashing)
// keeps a stolen database alone from being brute-forced.
type Argon2Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultArgon2 is light on purpose (about 3 ms here). A PIN has at most a
// million values: OWASP's password setting (19 MiB, 2 passes, 25 ms here)
// would still fall to a brute force of hours, yet cost a core at a few
// hundred PIN hops a second. What protects a stolen table is the pepper,
// which turns each hash input into an HMAC under a key the database does
// not hold; what protects an account online is the lockout. Operators who
// want more can raise it (PIN_ARGON2_TIME, PIN_ARGON2_MEMORY_KIB): hashes
// record their parameters, so old and new ones verify side by side.
var DefaultArgon2 = Argon2Params{Time: 1, Memory: 4 * 1024, Threads: 1}

const saltLen, keyLen = 16, 32

// pinHasher hashes and checks PINs with argon2id and a per-user salt.
type pinHasher struct {
	params Argon2Params
	pepper []byte
}

func (h pinHasher) input(pin string) []byte {
	if len(h.pepper) == 0 {
		return []byte(pin)
	}
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(pin))
	return m.Sum(nil)
}

// hash returns the PHC-style encoding of a fresh argon2id hash of pin.
func (h pinHasher) hash(pin string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("pin salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey(h.input(pin), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// check compares pin with an encoded hash in constant time, using the
// parameters recorded in the hash.
func (h pinHasher) check(pin, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("pin hash: unknown format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("pin hash: unsupported version %q", parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("pin hash: bad parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("pin hash: bad salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("pin hash: bad key: %w", err)
	}
	got := argon2.IDKey(h.input(pin), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// commonPINs are guessable PINs that are neither repeated nor sequential.
var commonPINs = map[string]bool{
	"1212": true, "1122": true, "2580": true, "0852": true, "1004": true, "2000": true, "1010": true,
	"6969": true, "1313": true, "4321": true, "2468": true, "1357": true, "121212": true, "112233": true, "123123": true,
}

// CheckPINStrength refuses a PIN that is not 4 to 6 digits or is easy to
// guess: one digit repeated, a run up or down (1234, 9876, 7890), or a
// well-known pattern.
func CheckPINStrength(pin string) error {
	if len(pin) < 4 || len(pin) > 6 {
		return fmt.Errorf("%w: must be 4 to 6 digits", ErrWeakPIN)
	}
	for _, r := range pin {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: digits only", ErrWeakPIN)
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := (int(pin[i]) - int(pin[i-1]) + 10) % 10
		same = same && d == 0
		up = up && d == 1
		down = down && d == 9
	}
	if same || up || down || commonPINs[pin] {
		return fmt.Errorf("%w: too easy to guess", ErrWeakPIN)
	}
	return nil
}
