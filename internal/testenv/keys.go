package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// KeysHolding reads every key of the Redis rdb talks to — its name and
// whatever it holds, of every type: strings, hashes, lists, sets, sorted
// sets, streams (asynq's task hashes included, whose payloads and error
// messages are raw bytes in them) — and returns a line for each key whose
// name or content found reports true for.
func KeysHolding(t testing.TB, rdb *redis.Client, found func(string) bool) []string {
	t.Helper()
	ctx := context.Background()
	var hits []string
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		var parts []string
		switch typ {
		case "string":
			parts = []string{rdb.Get(ctx, key).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, key).Val() {
				parts = append(parts, f, v)
			}
		case "list":
			parts = rdb.LRange(ctx, key, 0, -1).Val()
		case "set":
			parts = rdb.SMembers(ctx, key).Val()
		case "zset":
			parts = rdb.ZRange(ctx, key, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, key, "-", "+").Val() {
				for f, v := range m.Values {
					parts = append(parts, f, fmt.Sprint(v))
				}
			}
		case "none":
			continue // expired since SCAN listed it
		default:
			t.Fatalf("key %s has type %s, which this check cannot read", key, typ)
		}
		if found(key) {
			hits = append(hits, fmt.Sprintf("%s (%s): its name", key, typ))
			continue
		}
		for _, p := range parts {
			if found(p) {
				hits = append(hits, fmt.Sprintf("%s (%s): %.120q", key, typ, p))
				break
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return hits
}
