// Package config reads the server's settings from the environment, which
// command-line flags may override. Secrets come only from here and are never
// logged.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/rates"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The environments APP_ENV may name.
const (
	// Production is the default: every protection is on.
	Production = "production"
	// Development relaxes what a local run (make run, make regtest) cannot
	// provide: the gateway token, and Lightning Addresses on this machine.
	Development = "development"
)

// Config is everything the server is told from outside.
type Config struct {
	// Environment is Production or Development (APP_ENV).
	Environment string
	// DatabaseURL selects the engine: sqlite:PATH, mysql://… or postgres://….
	DatabaseURL string
	// DBMaxConns caps the connection pool (0: the engine's default).
	DBMaxConns int
	// DBIsolation is the transactions' isolation level (DB_ISOLATION):
	// the engine's default, or serializable (PostgreSQL; SQLite always is).
	DBIsolation store.Isolation
	// ListenAddr is where the HTTP server listens.
	ListenAddr string
	// MetricsAddr is where GET /metrics listens, apart from the public
	// listener (empty: no metrics endpoint).
	MetricsAddr string
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration

	// PhoneRegion reads national phone numbers (e.g. 0712…).
	PhoneRegion string
	// Limits, in sats (0: the wallet's default).
	MinSats, MaxSats, MaxBalanceSats, DailyLimitSats int64
	// Fees: basis points with a minimum in sats, for withdrawals and
	// external payments, and for phone-to-phone transfers.
	FeeBPS, FeeMinSats, TransferFeeBPS, TransferFeeMinSats int64
	// PINMaxAttempts wrong PINs lock an account for PINLockout, doubled on
	// each further lockout.
	PINMaxAttempts int
	PINLockout     time.Duration
	// PINPepper is a secret mixed into every PIN hash.
	PINPepper string
	// PINArgon2Time and PINArgon2MemoryKiB tune the PIN hash (0: default).
	PINArgon2Time, PINArgon2MemoryKiB int

	// PublicDomain is the domain of every user's Lightning Address.
	PublicDomain string
	// USSDCallbackToken must come with every gateway request; the server
	// refuses to start without one outside development.
	USSDCallbackToken string
	// USSDAllowedIPs, when not empty, are the only client addresses the
	// gateway endpoints answer.
	USSDAllowedIPs []netip.Prefix
	// TrustedProxies are the direct peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// USSDHopTimeout bounds the work of one hop.
	USSDHopTimeout time.Duration
	// PINForBalance asks for the PIN before the balance and transactions.
	PINForBalance bool
	// HopsPerMinute and PINsPerMinute limit each phone (0: off).
	HopsPerMinute, PINsPerMinute int
	// KESPerBTC, when set, is a fixed price of a bitcoin in shillings
	// (RATES_SOURCES, when set, is used instead): balances show their
	// value in shillings, and M-Pesa quotes are made from it.
	KESPerBTC string
	// LND locates the Lightning node (no address: no Lightning).
	LNDAddress, LNDTLSCertPath, LNDMacaroonPath, LNDNetwork string
	// LNURLPerClient and LNURLPerName bound the requests one client address
	// and one name may make of each Lightning Address endpoint per
	// LNURLLimitWindow, and LNURLGlobal the invoices all callbacks together
	// may ask the node for (0: off). A name's budget is larger than a
	// client's, so that no single client can use it up and lock the
	// address's honest payers out.
	LNURLPerClient, LNURLPerName, LNURLGlobal int
	LNURLLimitWindow                          time.Duration
	// LNURLInvoiceExpiry is how long an invoice issued to an anonymous
	// payer of an address can be paid; LNURLMaxUnpaid caps those of one
	// number that can be paid at a time.
	LNURLInvoiceExpiry time.Duration
	LNURLMaxUnpaid     int

	// SessionIdle closes USSD sessions idle this long; CleanupEvery is how
	// often the server runs its cleanup.
	SessionIdle, CleanupEvery time.Duration

	// Mpesa is the M-Pesa rail (mpesa.go); Rates the BTC/KES rate.
	Mpesa Mpesa
	Rates Rates
	// SMS is the Africa's Talking SMS settings (sms.go).
	SMS SMS
	// Ops is the liabilities watchdog and the PIN reset delay (ops.go).
	Ops Ops
}

// Default is the embedded default: SQLite under data/, port 8080.
func Default() Config {
	return Config{
		Environment:     Production,
		DatabaseURL:     "sqlite:data/umeme.db",
		ListenAddr:      ":8080",
		ShutdownTimeout: 10 * time.Second,
		PhoneRegion:     "KE",
		FeeBPS:          -1,
		FeeMinSats:      -1,
		PublicDomain:    "localhost",
		USSDHopTimeout:  3 * time.Second,
		PINForBalance:   true,
		HopsPerMinute:   30,
		PINsPerMinute:   6,
		SessionIdle:     3 * time.Minute,
		CleanupEvery:    time.Minute,
		LNDNetwork:      "mainnet",
		// A payer's wallet makes two requests per payment, and custodial
		// wallets make them from a few server addresses for all their users:
		// the per-client budget is the looser one.
		LNURLPerClient:     30,
		LNURLPerName:       120,
		LNURLGlobal:        600,
		LNURLLimitWindow:   time.Minute,
		LNURLInvoiceExpiry: 10 * time.Minute,
		LNURLMaxUnpaid:     20,
		Mpesa:              defaultMpesa(),
		Rates:              defaultRates(),
		SMS:                defaultSMS(),
	}
}

// FromEnv reads the environment over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Default()
	c.Ops = DefaultOps()
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var err error
	integer := func(name string, dst *int) {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = strconv.Atoi(v); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	duration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = time.ParseDuration(v); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	str("APP_ENV", &c.Environment)
	if c.Environment != Production && c.Environment != Development {
		err = fmt.Errorf("APP_ENV: %q is neither %s nor %s", c.Environment, Production, Development)
	}
	prefixes := func(name string, dst *[]netip.Prefix) {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = ParsePrefixes(v); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			} else if len(*dst) == 0 {
				// Set but empty would silently mean "anyone".
				err = fmt.Errorf("%s: %q names no address", name, v)
			}
		}
	}
	str("DATABASE_URL", &c.DatabaseURL)
	integer("DB_MAX_CONNS", &c.DBMaxConns)
	if v := getenv("DB_ISOLATION"); v != "" && err == nil {
		if c.DBIsolation, err = store.ParseIsolation(v); err != nil {
			err = fmt.Errorf("DB_ISOLATION: %w", err)
		}
	}
	str("LISTEN_ADDR", &c.ListenAddr)
	str("METRICS_ADDR", &c.MetricsAddr)
	duration("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	str("PHONE_REGION", &c.PhoneRegion)
	int64s := map[string]*int64{
		"LIMIT_MIN_SATS": &c.MinSats, "LIMIT_MAX_SATS": &c.MaxSats, "LIMIT_MAX_BALANCE_SATS": &c.MaxBalanceSats,
		"LIMIT_DAILY_SATS": &c.DailyLimitSats, "FEE_BPS": &c.FeeBPS, "FEE_MIN_SATS": &c.FeeMinSats,
		"TRANSFER_FEE_BPS": &c.TransferFeeBPS, "TRANSFER_FEE_MIN_SATS": &c.TransferFeeMinSats,
	}
	for name, dst := range int64s {
		if v := getenv(name); v != "" && err == nil {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
				continue
			}
			// Amounts become msat by a multiplication: bound them first.
			top, unit := store.MaxMsat/1000, "sats"
			if strings.HasSuffix(name, "_BPS") {
				top, unit = 10_000, "basis points"
			}
			if *dst < 0 || *dst > top {
				err = fmt.Errorf("%s: %d is outside 0-%d %s", name, *dst, top, unit)
			}
		}
	}
	integer("PIN_MAX_ATTEMPTS", &c.PINMaxAttempts)
	duration("PIN_LOCKOUT", &c.PINLockout)
	str("PIN_PEPPER", &c.PINPepper)
	integer("PIN_ARGON2_TIME", &c.PINArgon2Time)
	integer("PIN_ARGON2_MEMORY_KIB", &c.PINArgon2MemoryKiB)
	str("PUBLIC_DOMAIN", &c.PublicDomain)
	str("USSD_CALLBACK_TOKEN", &c.USSDCallbackToken)
	prefixes("USSD_ALLOWED_IPS", &c.USSDAllowedIPs)
	prefixes("TRUSTED_PROXIES", &c.TrustedProxies)
	duration("USSD_HOP_TIMEOUT", &c.USSDHopTimeout)
	if v := getenv("USSD_PIN_FOR_BALANCE"); v != "" && err == nil {
		if c.PINForBalance, err = strconv.ParseBool(v); err != nil {
			err = fmt.Errorf("USSD_PIN_FOR_BALANCE: %w", err)
		}
	}
	integer("USSD_HOPS_PER_MINUTE", &c.HopsPerMinute)
	integer("USSD_PINS_PER_MINUTE", &c.PINsPerMinute)
	if v := getenv("KES_PER_BTC"); v != "" && err == nil {
		if _, err = rates.Fixed(v); err != nil {
			err = fmt.Errorf("KES_PER_BTC: %w", err)
		}
		c.KESPerBTC = v
	}
	str("LND_ADDRESS", &c.LNDAddress)
	str("LND_TLS_CERT_PATH", &c.LNDTLSCertPath)
	str("LND_MACAROON_PATH", &c.LNDMacaroonPath)
	str("LND_NETWORK", &c.LNDNetwork)
	integer("LNURL_LIMIT_PER_CLIENT", &c.LNURLPerClient)
	integer("LNURL_LIMIT_PER_NAME", &c.LNURLPerName)
	integer("LNURL_LIMIT_GLOBAL", &c.LNURLGlobal)
	duration("LNURL_LIMIT_WINDOW", &c.LNURLLimitWindow)
	duration("LNURL_INVOICE_EXPIRY", &c.LNURLInvoiceExpiry)
	integer("LNURL_MAX_UNPAID_INVOICES", &c.LNURLMaxUnpaid)
	duration("USSD_SESSION_IDLE", &c.SessionIdle)
	duration("CLEANUP_EVERY", &c.CleanupEvery)
	return c, errors.Join(err, mpesaFromEnv(getenv, &c.Mpesa, &c.Rates), smsFromEnv(getenv, &c.SMS), opsFromEnv(getenv, &c.Ops))
}

// Development reports whether APP_ENV=development relaxes the protections
// a local run cannot provide.
func (c Config) Development() bool { return c.Environment == Development }

// CheckServe refuses settings the server must not run with: in production,
// the gateway endpoints without a callback token, which would let anyone
// drive any phone's sessions.
func (c Config) CheckServe() error {
	if err := errors.Join(c.Mpesa.check(c.Development()), c.SMS.check(c.Development())); err != nil {
		return err
	}
	if c.Development() {
		return nil
	}
	token := strings.TrimSpace(c.USSDCallbackToken)
	switch {
	case token == "":
		return errors.New("USSD_CALLBACK_TOKEN is not set: anyone could drive the USSD endpoints; " +
			"set it (and the same ?token= on the gateway's callback URLs), or APP_ENV=development for a local run")
	case len(token) < MinCallbackToken:
		return fmt.Errorf("USSD_CALLBACK_TOKEN is too short to keep strangers out: use at least %d random characters", MinCallbackToken)
	}
	for _, p := range c.TrustedProxies {
		// A proxy range this wide trusts the whole internet's
		// X-Forwarded-For, which undoes USSD_ALLOWED_IPS.
		if p.Bits() < 8 || (p.Addr().Is6() && p.Bits() < 32) {
			return fmt.Errorf("TRUSTED_PROXIES: %s is too wide to trust: name the proxies themselves", p)
		}
	}
	return nil
}

// MinCallbackToken is the shortest gateway token production accepts.
const MinCallbackToken = 16

// ParsePrefixes reads a comma-separated list of CIDRs or single addresses
// (IPv4-mapped IPv6 forms are read as IPv4).
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Flags registers flags that override the environment on fs.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "database URL (env DATABASE_URL)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "connection pool size (env DB_MAX_CONNS)")
	fs.StringVar(&c.ListenAddr, "listen", c.ListenAddr, "HTTP listen address (env LISTEN_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "GET /metrics listen address, off when empty (env METRICS_ADDR)")
	fs.StringVar(&c.PublicDomain, "public-domain", c.PublicDomain, "Lightning Address domain (env PUBLIC_DOMAIN)")
}

// Wallet is the wallet configuration these settings make.
func (c Config) Wallet() wallet.Config {
	w := wallet.DefaultConfig()
	w.Region = c.PhoneRegion
	set := func(dst *int64, sats int64) {
		if sats > 0 {
			*dst = sats * 1000
		}
	}
	set(&w.MinAmountMsat, c.MinSats)
	set(&w.MaxAmountMsat, c.MaxSats)
	set(&w.MaxBalanceMsat, c.MaxBalanceSats)
	set(&w.DailyLimitMsat, c.DailyLimitSats)
	if c.FeeBPS >= 0 {
		w.FeeBasisPoints = c.FeeBPS
	}
	if c.FeeMinSats >= 0 {
		w.FeeMinMsat = c.FeeMinSats * 1000
	}
	w.TransferFeeBasisPoints = c.TransferFeeBPS
	w.TransferFeeMinMsat = c.TransferFeeMinSats * 1000
	if c.PINMaxAttempts > 0 {
		w.MaxPINAttempts = c.PINMaxAttempts
	}
	if c.PINLockout > 0 {
		w.LockoutBase = c.PINLockout
	}
	w.PINPepper = []byte(c.PINPepper)
	if c.PINArgon2Time > 0 {
		w.Argon2.Time = uint32(c.PINArgon2Time)
	}
	if c.PINArgon2MemoryKiB > 0 {
		w.Argon2.Memory = uint32(c.PINArgon2MemoryKiB)
	}
	if c.Ops.Now != nil {
		w.Now = c.Ops.Now
	}
	return w
}

// Load reads the environment, then the flags in args.
func Load(fs *flag.FlagSet, args []string) (Config, error) {
	c, err := FromEnv(os.Getenv)
	if err != nil {
		return c, err
	}
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, nil
}
