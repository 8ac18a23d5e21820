//go:build tools

// Package tools pins the versions of lnd and btcd that the regtest network
// builds (scripts/regtest/build.sh); nothing imports it.
package tools

import (
	_ "github.com/btcsuite/btcd"
	_ "github.com/btcsuite/btcd/cmd/btcctl"
	_ "github.com/lightningnetwork/lnd/cmd/lncli"
	_ "github.com/lightningnetwork/lnd/cmd/lnd"
)
