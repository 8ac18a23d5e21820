package store

import (
	"encoding/json"
	"fmt"
)

// EncodeInputBuffer serialises a session's input buffer for its JSON column.
func EncodeInputBuffer(keys []string) string {
	if keys == nil {
		keys = []string{}
	}
	b, _ := json.Marshal(keys) // a []string always marshals
	return string(b)
}

// DecodeInputBuffer reads a session's input buffer from its JSON column.
func DecodeInputBuffer(s string) ([]string, error) {
	var keys []string
	if err := json.Unmarshal([]byte(s), &keys); err != nil {
		return nil, fmt.Errorf("decode input buffer: %w", err)
	}
	return keys, nil
}
