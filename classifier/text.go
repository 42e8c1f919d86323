package classifier

import "context"

// TextEncoder embeds profile texts: the label stage uses it when serving
// and classifier/train when training with text. *encoder.Encoder satisfies
// it (and classifier/train.CachedEncoder wraps one); the classifier
// declares it so that it does not depend on ONNX Runtime.
type TextEncoder interface {
	// Encode embeds texts, one vector of Dim() floats per text, in order.
	Encode(ctx context.Context, texts []string) ([][]float32, error)
	// Dim is the embedding size.
	Dim() int
	// ModelVersion names the encoder model's exact weights (the model
	// file's EmbeddingSpec.Encoder).
	ModelVersion() string
	// ProfileText is the one text a profile contributes to its embedding,
	// from its text ring newest first, cut to the model's token limit.
	ProfileText(texts []string) string
}
