package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
)

// TestInstances runs three `server serve` processes on one database of
// each engine (SQLite too: three processes on one WAL file), every
// background job on in each, behind the round-robin: the USSD hops of one
// session go to the servers in turn, and the simulators' callbacks and the
// Lightning Address requests rotate among them. The bank workload
// (concurrent transfers over USSD journeys) conserves the total, leaves no
// balance negative and books each acknowledged transfer once; then each
// user buys and sells over M-Pesa, pays the world node's Lightning
// Address, is paid at their own, and asks for an invoice by SMS that the
// world pays. Each external effect happened once: one STK push per
// top-up, one B2C payment per withdrawal, one text per notification, one
// payment of our node per invoice, one credit per payment in; and
// `server reconcile` passes.
func TestInstances(t *testing.T) {
	bin := fleet.Build(t, t.TempDir())
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) { instances(t, bin, engine) })
	}
}

func instances(t *testing.T, bin, engine string) {
	const servers, users = 3, 6
	transfers := 120
	if soak() {
		transfers = 2000
	}
	r := newRig(t, bin, engine, servers, nil)
	ctx := context.Background()
	phones := r.phones(users)
	hopped := map[int]bool{}
	for _, p := range phones {
		s := r.register(ctx, p)
		for i := 1; i < len(s.Servers); i++ {
			if s.Servers[i] == s.Servers[i-1] {
				t.Fatalf("two hops of session %s on server %d", s.ID, s.Servers[i])
			}
		}
		for _, i := range s.Servers {
			hopped[i] = true
		}
	}
	if len(hopped) != servers {
		t.Fatalf("registrations reached servers %v only", hopped)
	}
	const funds = 1_000_000
	for _, p := range phones {
		r.credit(p, funds)
	}

	// The bank: concurrent transfers among the users, each a USSD journey
	// hopping between the servers.
	began := time.Now()
	var mu sync.Mutex
	var ops []op
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range users {
		wg.Go(func() {
			for range jobs {
				i, j := rand.IntN(users), rand.IntN(users-1)
				if j >= i {
					j++
				}
				o := r.transfer(ctx, phones[i], phones[j], 1+rand.Int64N(5_000))
				mu.Lock()
				ops = append(ops, o)
				mu.Unlock()
			}
		})
	}
	for i := range transfers {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(began)
	all := r.txns()
	v := checkOps(all, ops)
	bal := r.balances()
	v = append(v, checkNegative(bal)...)
	var total int64
	for _, b := range bal {
		total += b
	}
	if total != users*funds*1000 {
		v = append(v, fmt.Sprintf("users hold %d msat after transfers, %d before", total, users*funds*1000))
	}
	acks := 0
	for _, o := range ops {
		if o.out == acked {
			acks++
		}
		if o.out == unknown {
			v = append(v, fmt.Sprintf("transfer of session %s got no answer with every server up: %s", o.session, o.screen))
		}
	}
	t.Logf("%s, %d servers: %d transfers in %s (%s); users hold %d sats, as before", engine, servers, len(ops), took.Round(time.Millisecond), tally(ops), total/1000)
	if acks < len(ops)/2 {
		v = append(v, fmt.Sprintf("only %d of %d transfers acknowledged", acks, len(ops)))
	}
	r.reconcile()

	// The journeys of every kind, each user once, concurrently.
	var journeys []op
	var invoiced []string
	wg = sync.WaitGroup{}
	for _, p := range phones {
		wg.Go(func() {
			mine := []op{r.buy(ctx, p, 500), r.sell(ctx, p, 50), r.payAddress(ctx, p, 2_000+rand.Int64N(1_000)), r.payIn(ctx, p, 1_500)}
			f := r.dial(ctx, p)
			if f.ok("Receive") {
				f.press(f.item("Receive"))
			}
			if f.ok("Invoice by SMS") {
				f.press(f.item("Invoice by SMS"))
			}
			if f.ok("Amount in sats:") {
				f.press("1234")
			}
			mu.Lock()
			defer mu.Unlock()
			journeys = append(journeys, mine...)
			if f.err != nil || !strings.Contains(f.screen, "An invoice for 1,234 sats is on its way") {
				v = append(v, fmt.Sprintf("invoice by SMS for %s: %q (%v)", p, f.screen, f.err))
				return
			}
			invoiced = append(invoiced, p)
		})
	}
	wg.Wait()
	for _, o := range journeys {
		if o.out != acked {
			v = append(v, fmt.Sprintf("%s of %s with every server up: %s %q", o.kind, o.phone, o.out, o.screen))
		}
	}
	// The world pays each invoice texted to a user.
	invoice := regexp.MustCompile(`lnbcrt[0-9a-z]+`)
	for _, p := range invoiced {
		var pr string
		for deadline := time.Now().Add(60 * time.Second); pr == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			for _, m := range r.w.SMS().Messages() {
				if m.To == p && strings.Contains(m.Text, "1,234 sats") {
					pr = invoice.FindString(m.Text)
				}
			}
		}
		if pr == "" {
			v = append(v, "no invoice texted to "+p)
			continue
		}
		if out, err := r.net.World.TryCLI("payinvoice", "--force", pr); err != nil {
			v = append(v, fmt.Sprintf("the world could not pay %s's invoice: %v %s", p, err, out))
		}
	}
	v = append(v, r.smsPay(ctx, phones)...)
	left := r.settle(2*time.Minute, true)
	// Wait for the texts of the payments in and their delivery reports.
	time.Sleep(2 * time.Second)
	left = append(left, r.settle(time.Minute, true)...)
	for _, x := range left {
		v = append(v, fmt.Sprintf("with no server killed, %s %d is pending unknown to Daraja", x.typ, x.id))
	}

	all = r.txns()
	v = append(v, checkOps(all, journeys)...)
	v = append(v, r.checkLightning(all)...)
	mv, unknowns := r.checkMpesa(all)
	v = append(v, mv...)
	v = append(v, unknowns...) // with no server killed, none may be unknown
	v = append(v, checkNegative(r.balances())...)
	stk, b2c := r.darajaCalls("/stkpush/v1/processrequest"), r.darajaCalls("/b2c/v3/paymentrequest")
	topups, withdrawals := r.count(`SELECT COUNT(*) FROM mpesa_requests WHERE kind = 'topup'`), r.count(`SELECT COUNT(*) FROM mpesa_requests WHERE kind = 'withdraw'`)
	if stk != topups || stk != users || b2c != withdrawals || b2c != users {
		v = append(v, fmt.Sprintf("%d STK pushes for %d top-ups, %d B2C payments for %d withdrawals (%d users)", stk, topups, b2c, withdrawals, users))
	}
	credits := 0
	for _, x := range all {
		if x.typ == "invoice" && x.status == "completed" {
			credits++
		}
	}
	if credits != users+len(invoiced) {
		v = append(v, fmt.Sprintf("%d payments in credited; want %d", credits, users+len(invoiced)))
	}
	v = append(v, r.checkTexts()...)
	out := r.reconcile()
	t.Logf("%s: journeys %s; %d STK pushes, %d B2C payments, %d payments in credited, %d texts sent\n%s",
		engine, tally(journeys), stk, b2c, credits, len(r.w.SMS().Messages()), out)
	for _, s := range v {
		t.Error(s)
	}
	t.Logf("%s: %d violations", engine, len(v))
}

// checkTexts checks that each notification went out as one text: the
// gateway took as many messages as there are notifications, each message
// id is one notification's, and every notification was sent once.
func (r *rig) checkTexts() []string {
	var v []string
	msgs := r.w.SMS().Messages()
	sent := r.count(`SELECT COUNT(*) FROM notifications WHERE status = 'sent'`)
	all := r.count(`SELECT COUNT(*) FROM notifications`)
	if len(msgs) != sent || sent != all {
		v = append(v, fmt.Sprintf("the gateway took %d texts for %d notifications (%d sent)", len(msgs), all, sent))
	}
	rows, err := r.db.Query(`SELECT message_id, notification_id FROM sms_deliveries`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	perNotification, perMessage := map[int64]int{}, map[string]int{}
	for rows.Next() {
		var m string
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			r.t.Fatal(err)
		}
		perNotification[n]++
		perMessage[m]++
	}
	for n, c := range perNotification {
		if c != 1 {
			v = append(v, fmt.Sprintf("notification %d sent as %d texts", n, c))
		}
	}
	for _, m := range msgs {
		if perMessage[m.ID] != 1 {
			v = append(v, fmt.Sprintf("text %s to %s is %d notifications' (%q)", m.ID, m.To, perMessage[m.ID], m.Text))
		}
	}
	return v
}

// smsPay has the world node make an invoice for each user, who texts it to
// the service (through the proxy: any server takes the text) and approves
// it in a USSD session hopping between servers. It returns what went
// wrong; the payments are checked against our node with the others.
func (r *rig) smsPay(ctx context.Context, phones []string) []string {
	var v []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range phones {
		var inv struct {
			PaymentRequest string `json:"payment_request"`
			Hash           string `json:"r_hash"`
		}
		r.net.World.CLIJSON(&inv, "addinvoice", "--amt", "1100", "--memo", "fleet")
		r.payee.add(inv.Hash)
		wg.Go(func() {
			fail := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				v = append(v, fmt.Sprintf("sms-pay of %s: ", p)+fmt.Sprintf(format, args...))
			}
			resp, err := r.w.SMS().SendInbound(ctx, r.proxy+"/sms/"+smsToken+"/inbound", p, "22384", inv.PaymentRequest)
			if err != nil {
				fail("the text in: %v", err)
				return
			}
			resp.Body.Close()
			deadline := time.Now().Add(60 * time.Second)
			for !r.texted(p, "to approve paying 1,100 sats") {
				if time.Now().After(deadline) {
					fail("no reply asking to approve")
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			f := r.dial(ctx, p)
			if !f.ok("Pay 1,100 sats") {
				fail("the session opened on %q (%v)", f.screen, f.err)
				return
			}
			f.press(f.item("Pay"))
			if !f.ok("Enter your PIN") {
				fail("after Pay: %q (%v)", f.screen, f.err)
				return
			}
			f.press(pin)
			if f.err != nil || !strings.HasPrefix(f.screen, "END Paying 1,100 sats") && !strings.HasPrefix(f.screen, "END Paid 1,100 sats") {
				fail("after the PIN: %q (%v)", f.screen, f.err)
			}
		})
	}
	wg.Wait()
	return v
}

// texted reports whether the gateway took a text to phone holding s.
func (r *rig) texted(phone, s string) bool {
	for _, m := range r.w.SMS().Messages() {
		if m.To == phone && strings.Contains(m.Text, s) {
			return true
		}
	}
	return false
}
