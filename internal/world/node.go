package world

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Node is the world's lnd: everyone on the Lightning Network who is not a
// user of the wallet. It is driven through lncli, as internal/regtest
// drives its nodes.
type Node struct {
	// LNCLI is the lncli binary; Dir the node's --lnddir; RPC its gRPC
	// address; Network its network (regtest).
	LNCLI, Dir, RPC, Network string
}

// cliTimeout bounds an lncli call; a payment has payTimeout.
const (
	cliTimeout = 20 * time.Second
	payTimeout = 60 * time.Second
)

// cli runs lncli and returns its output; a failure carries what lncli said.
func (n *Node) cli(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := []string{"--lnddir=" + n.Dir, "--network=" + n.Network, "--rpcserver=" + n.RPC}
	out, err := exec.CommandContext(ctx, n.LNCLI, append(base, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("lncli %s: %w: %s", args[0], err, strings.TrimSpace(lastLine(out)))
	}
	return out, nil
}

// cliJSON runs lncli and decodes its JSON answer into v.
func (n *Node) cliJSON(ctx context.Context, v any, args ...string) error {
	out, err := n.cli(ctx, cliTimeout, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("lncli %s: %w", args[0], err)
	}
	return nil
}

// lastLine is the last non-empty line of an output (lncli's error).
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// nodeInfo is the world node as the page shows it.
type nodeInfo struct {
	Alias       string `json:"alias"`
	BalanceSats int64  `json:"balanceSats"`
	ChannelSats int64  `json:"channelSats"`
	Pubkey      string `json:"pubkey"`
}

// info reads the node's identity, on-chain balance and what it can send
// over its channels.
func (n *Node) info(ctx context.Context) (nodeInfo, error) {
	var gi struct {
		Pubkey string `json:"identity_pubkey"`
	}
	var wb struct {
		Confirmed string `json:"confirmed_balance"`
	}
	var cb struct {
		Local struct {
			Sat string `json:"sat"`
		} `json:"local_balance"`
	}
	if err := errors.Join(n.cliJSON(ctx, &gi, "getinfo"), n.cliJSON(ctx, &wb, "walletbalance"), n.cliJSON(ctx, &cb, "channelbalance")); err != nil {
		return nodeInfo{}, err
	}
	info := nodeInfo{Alias: "world", Pubkey: gi.Pubkey}
	info.BalanceSats, _ = strconv.ParseInt(wb.Confirmed, 10, 64)
	info.ChannelSats, _ = strconv.ParseInt(cb.Local.Sat, 10, 64)
	return info, nil
}

// addInvoice makes an invoice of sats with memo, and returns it and its
// payment hash (hex).
func (n *Node) addInvoice(ctx context.Context, sats int64, memo string) (invoice, hash string, err error) {
	var inv struct {
		PaymentRequest string `json:"payment_request"`
		Hash           string `json:"r_hash"`
	}
	if err := n.cliJSON(ctx, &inv, "addinvoice", "--amt", strconv.FormatInt(sats, 10), "--memo", memo); err != nil {
		return "", "", err
	}
	return inv.PaymentRequest, inv.Hash, nil
}

// invoiceState is how an invoice of the node's stands: lnd's state (OPEN,
// SETTLED, CANCELED, ACCEPTED) and what was paid.
type invoiceState struct {
	State    string
	PaidMsat int64
}

// lookupInvoice reads the state of the node's invoice with the hash.
func (n *Node) lookupInvoice(ctx context.Context, hash string) (invoiceState, error) {
	var inv struct {
		State    string `json:"state"`
		PaidMsat string `json:"amt_paid_msat"`
	}
	if err := n.cliJSON(ctx, &inv, "lookupinvoice", "--rhash", hash); err != nil {
		return invoiceState{}, err
	}
	paid, _ := strconv.ParseInt(inv.PaidMsat, 10, 64)
	return invoiceState{State: inv.State, PaidMsat: paid}, nil
}

// decoded is what the world checks of an invoice before paying it.
type decoded struct {
	AmountMsat      int64
	DescriptionHash string
}

func (n *Node) decode(ctx context.Context, invoice string) (decoded, error) {
	var d struct {
		NumMsat         string `json:"num_msat"`
		DescriptionHash string `json:"description_hash"`
	}
	if err := n.cliJSON(ctx, &d, "decodepayreq", "--pay_req", invoice); err != nil {
		return decoded{}, err
	}
	msat, _ := strconv.ParseInt(d.NumMsat, 10, 64)
	return decoded{AmountMsat: msat, DescriptionHash: d.DescriptionHash}, nil
}

// payment is how a payment ended.
type payment struct {
	Status        string `json:"status"`
	FeeSat        string `json:"fee_sat"`
	ValueSat      string `json:"value_sat"`
	FailureReason string `json:"failure_reason"`
}

// pay pays an invoice and waits until it succeeds or fails.
func (n *Node) pay(ctx context.Context, invoice string) (payment, error) {
	out, err := n.cli(ctx, payTimeout+10*time.Second, "payinvoice", "--pay_req", invoice, "--force", "--json",
		"--timeout", payTimeout.String())
	// With --json lncli writes each update of the payment as one JSON
	// object; the last says how it ended, even when lncli then fails.
	var last payment
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p payment
		if dec.Decode(&p) != nil {
			break
		}
		if p.Status != "" {
			last = p
		}
	}
	if last.Status == "" {
		if err == nil {
			err = errors.New("lncli payinvoice: no payment status in its answer")
		}
		return last, err
	}
	return last, nil
}

// nodeCache keeps the node's info for a moment: the page polls, and each
// read is three lncli runs.
type nodeCache struct {
	node *Node
	mu   sync.Mutex
	at   time.Time
	info nodeInfo
	err  error
}

// nodeInfoTTL is how long the node's info is reused.
const nodeInfoTTL = time.Second

func (c *nodeCache) get(ctx context.Context) (nodeInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < nodeInfoTTL {
		return c.info, c.err
	}
	c.info, c.err = c.node.info(ctx)
	c.at = time.Now()
	return c.info, c.err
}

// forget drops the cached info, after the node paid or was paid.
func (c *nodeCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Time{}
}

// readLimited reads at most n bytes of r, failing beyond.
func readLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("answer larger than %d bytes", n)
	}
	return b, nil
}
