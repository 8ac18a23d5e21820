package lightning_test

import (
	"os"
	"testing"

	"github.com/umeme-wallet/umeme/internal/regtest"
)

// network is the package's shared regtest network (regtest.Shared).
func network(t *testing.T) *regtest.Network {
	t.Helper()
	return regtest.Shared(t)
}

func TestMain(m *testing.M) { os.Exit(regtest.RunShared(m)) }
