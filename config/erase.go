package config

import "errors"

// LoadRedisOnly reads the Redis settings alone (and checks the logging
// ones), for commands that need nothing else: `worker erase`.
func LoadRedisOnly(getenv Getenv) (Redis, error) {
	r, err := loadRedis(getenv)
	return r, errors.Join(err, loadLogging(getenv))
}
