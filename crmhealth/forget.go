package crmhealth

import (
	"context"
	"fmt"
)

// Forget deletes the fields of the published state whose value match is
// true for, and returns how many; with apply false it only counts them.
// The last error is Dataverse's message, which may quote a person's values
// ("… for ann@example.com"): erasing that person removes it.
func (p *Publisher) Forget(ctx context.Context, match func(string) bool, apply bool) (int, error) {
	vals, err := p.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("crmhealth: forget: %w", err)
	}
	var drop []string
	for f, v := range vals {
		if match(v) {
			drop = append(drop, f)
		}
	}
	if len(drop) > 0 && apply {
		if err := p.rdb.HDel(ctx, key, drop...).Err(); err != nil {
			return 0, fmt.Errorf("crmhealth: forget: %w", err)
		}
	}
	return len(drop), nil
}
