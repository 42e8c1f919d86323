package consumer_test

import (
	"context"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

// folderOf folds into the store, as the service wires it.
func folderOf(s *featurestore.Store) consumer.Folder {
	return consumer.FoldFunc(func(ctx context.Context, recs []events.Record) (consumer.Folded, error) {
		r, err := s.Fold(ctx, recs)
		return consumer.Folded{SkippedOffset: r.SkippedOffset, SkippedDupID: r.SkippedDupID}, err
	})
}
