package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of an intake dead letter. The original message's headers are kept
// as they were, except the server-interpreted Nats-* headers; its
// Nats-Msg-Id moves to HeaderOriginalMsgID.
const (
	// HeaderReason is the Reason code.
	HeaderReason = "Deadletter-Reason"
	// HeaderMessage names the problem and its fix.
	HeaderMessage = "Deadletter-Message"
	// HeaderStream and HeaderStreamSeq locate the original message.
	HeaderStream    = "Deadletter-Stream"
	HeaderStreamSeq = "Deadletter-Stream-Seq"
	// HeaderSubject is the subject the event was published on.
	HeaderSubject = "Deadletter-Subject"
	// HeaderConsumer is the consumer that gave up on it.
	HeaderConsumer = "Deadletter-Consumer"
	// HeaderDeliveries is how many times it had been delivered.
	HeaderDeliveries = "Deadletter-Deliveries"
	// HeaderTime is when it was dead-lettered (RFC 3339).
	HeaderTime = "Deadletter-Time"
	// HeaderOriginalMsgID is the original Nats-Msg-Id, if any.
	HeaderOriginalMsgID = "Deadletter-Original-Msg-Id"
)

// DeadLetterSubject returns the subject of an intake dead letter:
// <prefix>.intake.<reason>.
func DeadLetterSubject(prefix string, r Reason) string {
	return prefix + ".intake." + string(r)
}

// DeadLetterMsgID returns the Nats-Msg-Id of the dead letter of message seq
// of stream, so that writing it twice (a redelivery, or two workers seeing
// one advisory) stores it once within the duplicates window.
func DeadLetterMsgID(stream string, seq uint64) string {
	return "intake:" + stream + ":" + strconv.FormatUint(seq, 10)
}

// OriginalMsg rebuilds, from an intake dead letter, the message to
// republish to the HR stream for a replay (after an optional edit of its
// data): the original subject and headers, without the dead-letter headers
// and without a Nats-Msg-Id (set a new one when publishing).
func OriginalMsg(dl *jetstream.RawStreamMsg) (*nats.Msg, error) {
	subj := dl.Header.Get(HeaderSubject)
	if subj == "" || dl.Header.Get(HeaderReason) == "" {
		return nil, errors.New("events: not an intake dead letter (no Deadletter-Subject or Deadletter-Reason header)")
	}
	h := nats.Header{}
	for k, vs := range dl.Header {
		if strings.HasPrefix(strings.ToLower(k), "deadletter-") || strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	return &nats.Msg{Subject: subj, Header: h, Data: append([]byte(nil), dl.Data...)}, nil
}

// deadLetterInfo describes one dead letter.
type deadLetterInfo struct {
	reason     Reason
	message    string
	subject    string
	seq        uint64
	deliveries uint64
	header     nats.Header
	data       []byte
}

// buildDeadLetter returns the dead-letter message for info.
func (c *Consumer) buildDeadLetter(info deadLetterInfo) *nats.Msg {
	h := nats.Header{}
	for k, vs := range info.header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "nats-") {
			if lk == "nats-msg-id" && len(vs) > 0 {
				h.Set(HeaderOriginalMsgID, headerValue(vs[0]))
			}
			continue
		}
		if strings.HasPrefix(lk, "deadletter-") {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set(HeaderReason, string(info.reason))
	h.Set(HeaderMessage, headerValue(info.message))
	h.Set(HeaderStream, c.cfg.Stream)
	h.Set(HeaderStreamSeq, strconv.FormatUint(info.seq, 10))
	h.Set(HeaderSubject, info.subject)
	h.Set(HeaderConsumer, c.cfg.Durable)
	h.Set(HeaderDeliveries, strconv.FormatUint(info.deliveries, 10))
	h.Set(HeaderTime, c.cfg.NowFunc().UTC().Format(time.RFC3339Nano))
	return &nats.Msg{
		Subject: DeadLetterSubject(c.cfg.DeadLetterPrefix, info.reason),
		Header:  h,
		Data:    info.data,
	}
}

// headerValue makes s safe as a NATS header value: one line, bounded.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
	const max = 2048
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// publishDeadLetter writes a dead letter and waits for the stream's ack.
func (c *Consumer) publishDeadLetter(ctx context.Context, info deadLetterInfo) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	_, err := c.js.PublishMsg(ctx, c.buildDeadLetter(info),
		jetstream.WithMsgID(DeadLetterMsgID(c.cfg.Stream, info.seq)),
		jetstream.WithExpectStream(c.cfg.DeadLetterStream))
	if err != nil {
		return fmt.Errorf("events: write dead letter to %s: %w", c.cfg.DeadLetterStream, err)
	}
	c.stats.deadLetter(info.reason)
	return nil
}

// maxDeliveriesAdvisory is the JetStream advisory
// io.nats.jetstream.advisory.v1.max_deliver.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// maxDeliveriesSubject is where the server announces that a message of the
// consumer reached MaxDeliver.
func (c *Consumer) maxDeliveriesSubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.cfg.Stream + "." + c.cfg.Durable
}

// onMaxDeliveries dead-letters the message an advisory names.
func (c *Consumer) onMaxDeliveries(ctx context.Context, hr jetstream.Stream, body []byte) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(body, &adv); err != nil || adv.StreamSeq == 0 {
		c.log.Error().Err(err).Msg("events: unreadable MAX_DELIVERIES advisory")
		return
	}
	if adv.Stream != c.cfg.Stream || adv.Consumer != c.cfg.Durable {
		return
	}
	log := c.log.With().Uint64("stream_seq", adv.StreamSeq).Str("reason", string(ReasonMaxDeliveries)).Logger()
	var lastErr error
	wait := c.cfg.ProbeInterval
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				log.Error().Err(lastErr).Msg("events: max-deliveries dead letter abandoned at shutdown; the message stays in the stream")
				return
			case <-t.C:
			}
			wait = min(2*wait, c.cfg.ProbeMaxInterval)
		}
		gctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
		raw, err := hr.GetMsg(gctx, adv.StreamSeq)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			log.Error().Msg("events: message reached max deliveries but is no longer in the stream")
			return
		}
		if err != nil {
			lastErr = fmt.Errorf("events: get message %d: %w", adv.StreamSeq, err)
			continue
		}
		err = c.publishDeadLetter(ctx, deadLetterInfo{
			reason: ReasonMaxDeliveries,
			message: fmt.Sprintf("delivered %d times without being acknowledged (max deliver %d): the task backend stayed "+
				"unavailable or the worker stopped while holding it; republish it once the cause is fixed",
				adv.Deliveries, c.cfg.MaxDeliver),
			subject:    raw.Subject,
			seq:        raw.Sequence,
			deliveries: adv.Deliveries,
			header:     raw.Header,
			data:       raw.Data,
		})
		if err != nil {
			lastErr = err
			continue
		}
		log.Warn().Uint64("deliveries", adv.Deliveries).Msg("events: event dead-lettered after max deliveries")
		return
	}
	log.Error().Err(lastErr).Msg("events: could not dead-letter a message that reached max deliveries; it stays in the stream")
}
