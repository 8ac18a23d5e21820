package rates_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/umeme-wallet/umeme/internal/rates"
)

// Example wires the pieces as a server would: RATES_SOURCES read by
// ParseSources, their median behind a Cache, and quotes from the cache.
func Example() {
	exchange := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"rates":{"KES":"12000000.00"}},"ticker":[{"price":12060000}]}`)
	}))
	defer exchange.Close()

	sources, err := rates.ParseSources(exchange.URL + "/a|data.rates.KES, " + exchange.URL + "/b|ticker.0.price")
	if err != nil {
		panic(err)
	}
	m := &rates.Median{}
	for _, s := range sources {
		m.Providers = append(m.Providers, s.HTTPJSON(false))
	}
	cache := &rates.Cache{Provider: m} // RATES_TTL, RATES_MAX_AGE defaults
	q := &rates.Quoter{Rates: cache, SpreadBps: 150}

	quote, err := q.Buy(context.Background(), 1000)
	if err != nil {
		panic(err)
	}
	fmt.Println(rates.FormatRate(quote.Rate))
	fmt.Println(rates.FormatKES(quote.KES), "buys", quote.Msat/1000, "sats")
	// Output:
	// 1 BTC = KES 12,030,000
	// KES 1,000 buys 8189 sats
}
