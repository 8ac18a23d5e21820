package ramp

import (
	"context"
	"errors"
	"fmt"

	"github.com/umeme-wallet/umeme/internal/mpesa"
)

// Client is the Daraja port over internal/mpesa's client. It sorts the
// client's errors into what the ramp acts on: ErrRefused (nothing will
// happen), ErrBusy (a prompt already on the phone), ErrDuplicate (a B2C id
// Daraja has seen), and anything else, whose outcome is unknown.
type Client struct{ C *mpesa.Client }

func (c Client) STKPush(ctx context.Context, p STKPush) (string, error) {
	reply, err := c.C.STKPush(ctx, mpesa.STKPush{Phone: p.Phone, AmountKES: p.AmountKES, AccountReference: p.Reference,
		Description: p.Description, CallbackURL: p.CallbackURL})
	if err != nil {
		return "", sortSTKError(err)
	}
	return reply.CheckoutRequestID, nil
}

// sortSTKError: a locked subscriber, a request the client would not send
// and a 4xx refusal are definite; a transport error or a 5xx leaves the
// push's fate unknown.
func sortSTKError(err error) error {
	var ae *mpesa.APIError
	switch {
	case mpesa.IsSubscriberLocked(err):
		return fmt.Errorf("%w: %w: %w", ErrRefused, ErrBusy, err)
	case errors.Is(err, mpesa.ErrInvalidRequest), errors.Is(err, mpesa.ErrNotConfigured):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.As(err, &ae) && ae.HTTPStatus < 500:
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

func (c Client) STKQuery(ctx context.Context, checkoutRequestID string) (STKOutcome, error) {
	reply, err := c.C.STKQuery(ctx, checkoutRequestID)
	if mpesa.IsBeingProcessed(err) {
		return STKOutcome{Pending: true}, nil
	}
	if err != nil {
		return STKOutcome{}, err
	}
	return STKOutcome{ResultCode: fmt.Sprint(reply.ResultCode), ResultDesc: reply.ResultDesc}, nil
}

func (c Client) B2C(ctx context.Context, p B2C) (string, error) {
	reply, err := c.C.B2C(ctx, mpesa.B2C{OriginatorConversationID: p.OriginatorConversationID, Phone: p.Phone, AmountKES: p.AmountKES,
		Remarks: p.Remarks, ResultURL: p.ResultURL, QueueTimeOutURL: p.TimeoutURL})
	switch {
	case err == nil:
		return reply.ConversationID, nil
	case mpesa.IsDuplicate(err):
		return "", fmt.Errorf("%w: %w", ErrDuplicate, err)
	case errors.Is(err, mpesa.ErrOutcomeUnknown):
		return "", err
	}
	// The client's B2C errors are definite unless they say otherwise.
	return "", fmt.Errorf("%w: %w", ErrRefused, err)
}

func (c Client) TransactionStatus(ctx context.Context, originatorConversationID, resultURL, timeoutURL string) error {
	_, err := c.C.TransactionStatus(ctx, mpesa.TransactionStatus{OriginatorConversationID: originatorConversationID,
		ResultURL: resultURL, QueueTimeOutURL: timeoutURL, Remarks: "Umeme status check"})
	return err
}

// STKCallback reads an STK callback body.
func STKCallback(body []byte) (STKResult, error) {
	r, err := mpesa.ParseSTKCallback(body)
	if err != nil {
		return STKResult{}, err
	}
	return STKResult{CheckoutRequestID: r.CheckoutRequestID, ResultCode: r.ResultCode, ResultDesc: r.ResultDesc,
		AmountKES: r.AmountKES, Receipt: r.Receipt, Phone: r.Phone}, nil
}

// ResultCallback reads a B2C result, queue time-out or Transaction Status
// result body.
func ResultCallback(body []byte) (Result, error) {
	r, err := mpesa.ParseResult(body)
	if err != nil {
		return Result{}, err
	}
	amount, _, err := r.AmountKES()
	if err != nil {
		return Result{}, err
	}
	return Result{OriginatorConversationID: r.OriginatorConversationID, ConversationID: r.ConversationID, ResultCode: r.ResultCode,
		ResultDesc: r.ResultDesc, Receipt: r.Receipt(), AmountKES: amount, Status: r.TransactionStatus()}, nil
}
