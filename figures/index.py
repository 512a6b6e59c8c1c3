"""The chapter's figures as listed in the book's index: file name, section, Japanese caption, English caption.

The file names are fixed by the book. The book's index writes 基本公正 for 37-3; 構成 is meant and used here.
"""

INDEX = [
    ("chatgpt-book-ch6-37-1-image-to-vector.png", 37, "画像をベクトルに変換", "Turning an image into a vector"),
    (
        "chatgpt-book-ch6-37-2-padding-tokens.png",
        37,
        "パディングして可変長の入力に対応（文長の統一）",
        "Padding handles variable-length input (equal sentence lengths)",
    ),
    (
        "chatgpt-book-ch6-37-3-rnn-sequence.png",
        37,
        "RNNの基本構成（逐次処理の構造）",
        "Basic structure of an RNN (sequential processing)",
    ),
    (
        "chatgpt-book-ch6-37-4-rnn-variants.png",
        37,
        "RNNの構成例（多層RNNと双方向RNNの比較）",
        "RNN variants (stacked RNN compared with bidirectional RNN)",
    ),
    (
        "chatgpt-book-ch6-37-5-rnn-text-generation.png",
        37,
        "言語モデルとしてのRNN（文章生成の流れ）",
        "The RNN as a language model (how text is generated)",
    ),
    (
        "chatgpt-book-ch6-37-6-transformer-layers.png",
        37,
        "本当は深いRNN（トークンの処理深度の可視化）",
        "An RNN is really deep (processing depth of each token)",
    ),
    (
        "chatgpt-book-ch6-37-7-rnn-vs-lstm.png",
        37,
        "LSTMの基本構成（RNNとLSTMの比較）",
        "Basic structure of the LSTM (RNN compared with LSTM)",
    ),
    (
        "chatgpt-book-ch6-37-8-rnn-encoder-decoder.png",
        37,
        "RNNによるエンコーダー・デコーダー（翻訳タスクを例に）",
        "An RNN encoder–decoder (translation as the example)",
    ),
    (
        "chatgpt-book-ch6-38-1-attention-mechanism.png",
        38,
        "Memory Networkのモデル概要（シンプルなAttentionによる質問応答の仕組み）",
        "Overview of the Memory Network (question answering with simple attention)",
    ),
    (
        "chatgpt-book-ch6-38-2-rnn-translation.png",
        38,
        "RNNによるエンコーダー・デコーダー（Attentionを組み込む前）",
        "An RNN encoder–decoder (before attention is added)",
    ),
    (
        "chatgpt-book-ch6-38-3-seq2seq-attention.png",
        38,
        "RNNエンコーダー・デコーダーと注意機構",
        "An RNN encoder–decoder with attention",
    ),
    (
        "chatgpt-book-ch6-39-1-rnn-qkv-extraction.png",
        39,
        "RNNブロックから検索キーK、値V、質問Qを生成",
        "Keys K, values V and queries Q computed from the RNN block",
    ),
    (
        "chatgpt-book-ch6-39-2-attention-similarity.png",
        39,
        "検索キーKと質問Qの類似度計算",
        "Similarity of the keys K and the queries Q",
    ),
    (
        "chatgpt-book-ch6-39-3-attention-weighted-sum.png",
        39,
        "値VのAttention重み付き平均と元のブロックの出力の和を取る",
        "Attention-weighted average of the values V, added to the block's own output",
    ),
    ("chatgpt-book-ch6-39-4-attention-learning.png", 39, "注意機構の学習", "Learning attention"),
    (
        "chatgpt-book-ch6-40-1-lstm-vs-transformer.png",
        40,
        "LSTM（RNN）とTransformerの基本構成を比較",
        "Basic structure of the LSTM (RNN) compared with the Transformer",
    ),
    (
        "chatgpt-book-ch6-40-2-transformer-block.png",
        40,
        "シンプルなTransformerブロックの構成",
        "Structure of a simple Transformer block",
    ),
    (
        "chatgpt-book-ch6-40-3-positional-encoding.png",
        40,
        "位置エンコーディング（絶対位置）の加算",
        "Adding the (absolute) positional encoding",
    ),
    (
        "chatgpt-book-ch6-40-4-hdd-head.png",
        40,
        "HDD（ハードディスク）の読み取りヘッド（マルチ「ヘッド」の用語の説明として）",
        "The read heads of a hard disk drive (to explain the word “head” in multi-head)",
    ),
    (
        "chatgpt-book-ch6-40-5-multihead-attention.png",
        40,
        "マルチヘッドAttentionの動作",
        "How multi-head attention works",
    ),
    (
        "chatgpt-book-ch6-41-1-bert-finetuning-flow.png",
        41,
        "BERTによる基盤モデルの事前学習とファインチューニング",
        "Pre-training a foundation model with BERT, then fine-tuning it",
    ),
    (
        "chatgpt-book-ch6-41-2-bert-masked-lm.png",
        41,
        "BERTの事前学習（Masked言語モデル）",
        "BERT pre-training (masked language model)",
    ),
    (
        "chatgpt-book-ch6-41-3-next-sentence-prediction.png",
        41,
        "BERTの事前学習（次文章予測）",
        "BERT pre-training (next sentence prediction)",
    ),
    (
        "chatgpt-book-ch6-42-1-masked-attention.png",
        42,
        "GPT（Generative Pretrained Transformer）の基本構成",
        "Basic structure of GPT (Generative Pretrained Transformer)",
    ),
    (
        "chatgpt-book-ch6-42-2-mixture-of-experts.png",
        42,
        "Mixture of Expertsの模式図",
        "Schematic of a mixture of experts",
    ),
]

NAMES = [name for name, *_ in INDEX]
