package ussd

import (
	"strconv"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The history flow: pages of transactions, newest first, behind the PIN
// when Config.PINForBalance asks for it.
const (
	stHistoryPIN = "history_pin"
	stHistory    = "history" // buf: [id of the newest row shown, id of the oldest]
)

var historyStates = map[string]state{
	stHistoryPIN: {parent: stMain, afterPIN: func(h *hop, _ wallet.Authorization) { h.goTo(stHistory) }, draw: prompt(kEnterPIN)},
	stHistory:    {parent: stMain, read: (*hop).history, draw: (*hop).historyPage},
}

func (h *hop) history(in string) {
	if in != "9" || len(h.buf) != 2 {
		h.refuse(kInvalidChoice)
		return
	}
	oldest, _ := strconv.ParseInt(h.buf[1], 10, 64)
	h.buf = []string{"", strconv.FormatInt(oldest, 10)}
	h.reason = ""
}

// historyPage lists a page of transactions older than the page before, and
// keeps the page's bounds in the buffer for "9" (more).
func (h *hop) historyPage() []string {
	var before int64
	if len(h.buf) == 2 {
		before, _ = strconv.ParseInt(h.buf[1], 10, 64)
	}
	page := h.e.cfg.HistoryPage
	rows, err := h.e.wallet.History(h.ctx, h.user.ID, before, page+1)
	if err != nil {
		h.sorry(err)
		return nil
	}
	if len(rows) == 0 {
		if before > 0 {
			return []string{h.t(kNoMoreHistory), h.t(kBack)}
		}
		return []string{h.t(kHistoryEmpty), h.t(kBack)}
	}
	more := len(rows) > page
	rows = rows[:min(len(rows), page)]
	var lines []string
	for _, r := range rows {
		lines = append(lines, historyLine(h.lang(), r, h.e.wallet.Config().DayZone))
	}
	h.buf = []string{strconv.FormatInt(rows[0].ID, 10), strconv.FormatInt(rows[len(rows)-1].ID, 10)}
	if more {
		lines = append(lines, h.t(kMore))
	}
	return append(lines, h.t(kBack))
}

// historyLine is one compact line: signed amount, who or what, date.
func historyLine(lang string, r store.Transaction, zone *time.Location) string {
	who := maskPhone(r.CounterpartyPhone)
	if r.CounterpartyPhone == "" {
		who = string(r.Type)
	}
	if r.Status != store.StatusCompleted {
		who += "(" + string(r.Status)[:4] + ")"
	}
	date := r.CreatedAt.In(zone).Format("02/01")
	if r.Direction == store.DirectionIn {
		return text(lang, kHistoryIn, sats(r.AmountMsat), who, date)
	}
	return text(lang, kHistoryOut, sats(r.AmountMsat+r.FeeMsat), who, date)
}
