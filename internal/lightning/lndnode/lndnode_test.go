package lndnode

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"

	"github.com/umeme-wallet/umeme/internal/lightning"
)

// TestPaymentErrors: of the errors a payment stream can end with, only
// lnd's answers are definite. A refusal counts only before any status of a
// send; transport failures and timeouts never do.
func TestPaymentErrors(t *testing.T) {
	refused, exists, notFound := lightning.ErrPaymentRefused, lightning.ErrPaymentExists, lightning.ErrPaymentNotFound
	for _, c := range []struct {
		name      string
		err       error
		preflight bool
		want      error // nil: none of the definite kinds
	}{
		{"lnd's plain error before any status", status.Error(codes.Unknown, "invoice expired. Valid until …"), true, refused},
		{"an invalid argument", status.Error(codes.InvalidArgument, "payment request must contain a payment address"), true, refused},
		{"a failed precondition", status.Error(codes.FailedPrecondition, "cltv limit 2016 should be greater than 5003"), true, refused},
		{"lnd's plain error after a status", status.Error(codes.Unknown, "payment stream ended"), false, nil},
		{"lnd unreachable", status.Error(codes.Unavailable, "connection refused"), true, nil},
		{"a timeout", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true, nil},
		{"our hang-up", status.Error(codes.Canceled, "context canceled"), true, nil},
		{"a context error that is no status", context.DeadlineExceeded, true, nil},
		{"a client-side error that is no status", errors.New("unable to unmarshal"), true, nil},
		{"already paid (lndclient's AlreadyExists)", paymentsdb.ErrAlreadyPaid, true, exists},
		{"not initiated (lndclient's NotFound)", fmt.Errorf("track: %w", paymentsdb.ErrPaymentNotInitiated), false, notFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := paymentError(c.err, c.preflight)
			for _, kind := range []error{refused, exists, notFound} {
				if errors.Is(got, kind) != (kind == c.want) {
					t.Fatalf("paymentError(%v, %v) = %v; want kind %v", c.err, c.preflight, got, c.want)
				}
			}
			if !errors.Is(got, c.err) && c.want == nil {
				t.Fatalf("the original error is lost: %v", got)
			}
		})
	}
}
