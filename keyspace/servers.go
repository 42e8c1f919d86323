package keyspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EachServer calls fn with the server of a single-server client, or with
// every master of a cluster client (in parallel).
func EachServer(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	default:
		return fmt.Errorf("keyspace: unsupported Redis client %T", rdb)
	}
}

// Scan calls fn with every key matching pattern on every server (SCAN in
// pages of 2,000; on a cluster each master in parallel, so fn must be safe
// for concurrent use).
func Scan(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(key string) error) error {
	return EachServer(ctx, rdb, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, 2000).Iterator()
		for iter.Next(ctx) {
			if err := fn(iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	})
}

// DeletePrefix deletes every key under prefix+":" (SCAN and UNLINK, in
// pipelines of 2,000, on every server; never FLUSHALL): for tests,
// benchmarks and the demo, which own their prefix. Keys are unlinked one
// per command, so no command crosses cluster slots.
func DeletePrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	pattern := NewKeys(prefix).AllPattern()
	return EachServer(ctx, rdb, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, 2000).Iterator()
		pipe := node.Pipeline()
		for iter.Next(ctx) {
			pipe.Unlink(ctx, iter.Val())
			if pipe.Len() >= 2000 {
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
		}
		if pipe.Len() > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
		return iter.Err()
	})
}

// GetMany reads keys in one round trip: MGET on a single server; on Redis
// Cluster, where MGET refuses keys of different slots (CROSSSLOT), a
// pipeline of GETs that the cluster client splits by node and sends in
// parallel. A missing key reads as nil.
func GetMany(ctx context.Context, rdb redis.UniversalClient, keys []string) ([]any, error) {
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		return rdb.MGet(ctx, keys...).Result()
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	vals := make([]any, len(keys))
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			vals[i] = v
		}
	}
	return vals, nil
}
