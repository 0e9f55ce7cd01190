// Package events decodes the raw records that fstrace's BPF programs write
// into ring buffers (struct fst_record in bpf/fstrace.h) into Events, and
// formats Events as JSON Lines (AppendJSON) and as aligned human-readable
// text (AppendText, or TextFormat for a choice of time column and colour).
//
// The hot path (Decoder.Decode, AppendJSON, AppendText) allocates nothing in
// steady state: an Event owns a byte buffer that its strings point into, and
// that buffer is reused by the next Decode into the same Event. Use
// Event.Clone to keep an Event beyond that.
package events
