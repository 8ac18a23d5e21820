package ussd

import "testing"

// TestStatesTable: every state draws, reads its input in exactly one way
// (an input handler, or the PIN and what it unlocks), goes back only to a
// state that exists, and a state a number without an account may see
// goes back only to another such state.
func TestStatesTable(t *testing.T) {
	if len(states) == 0 {
		t.Fatal("no states")
	}
	for name, st := range states {
		if st.draw == nil {
			t.Errorf("%s: no draw", name)
		}
		if (st.read == nil) == (st.afterPIN == nil) {
			t.Errorf("%s: needs exactly one of read and afterPIN", name)
		}
		if st.keep < keepAll {
			t.Errorf("%s: keep %d", name, st.keep)
		}
		if st.parent == "" {
			continue
		}
		p, ok := states[st.parent]
		if !ok {
			t.Errorf("%s: parent %q is no state", name, st.parent)
		}
		if st.open && !p.open {
			t.Errorf("%s: open, but goes back to %s, which is not", name, st.parent)
		}
	}
	for _, name := range []string{stWelcome, stMain} {
		if _, ok := states[name]; !ok {
			t.Errorf("the engine's home %s is no state", name)
		}
	}
}
