"""Words that are right in machine-learning code but missing from an English dictionary.

The spelling check accepts an identifier word when it is English, one of these, or built from
them (a plural, ``n`` + a word as in ``ntokens``, two words run together as in ``srcmask``).
Add terms here when a correct submission is flagged. Abbreviations too short to be checked on
their own (``src``, ``idx``) are here for the words they run into.
"""

from __future__ import annotations

_TERMS = """
    accum accumulate activations adagrad adamw addmm affine arange argmax argmin args argsort
    attn attr attrs autocast autograd autoregressive avgpool
    backend backprop backpropagate backward batched batchify batchnorm bert bfloat bias biases
    bidirectional bilinear bincount bmm bool boolean bptt broadcastable buf buffers builtin
    builtins bwrap
    calc callee callees canonicalise canonicalize cfg checkpoint checkpointing chunked ckpt
    clamp classifier clip cls codebook colab concat config configs contiguous conv convs cpu csv
    cuda cudnn cumprod cumsum curr
    dataloader dataloaders datapoint dataset datasets ddp decay decoder decoders dedent dedented
    deepcopy delattr denoise dequantize derandomize derandomized detach diag dict dicts dims
    dirname docstring docstrings dropout dtype dtypes
    einsum elementwise elif embed embedder embedding embeds emsize encoder encoders enum epoch
    epochs eval evals exp expm
    fc feedforward fft finalizer finetune finetuning flatten float fname fp func functools fwd
    gelu getattr github glu gpt gpu gpus grad gradient grads
    hadamard hardcoded hasattr hparams href hrefs hyperparameter hyperparameters
    idx idxs impl init initrange inplace int ints isinstance iter iterable iterator iters
    json junit jupyter
    kwargs
    labelled layernorm len lexer linspace linter linters llm llms lm logit logits logprobs
    logsumexp lookup lookups lora lr lstm
    matmul maxlen maxpool mha minibatch mlm mlp mps msg multi
    namespace nan nans nbconvert ndim newline newlines nhead nheads ninp nlayers nll nn ntoken
    ntokens num numel numpy nums
    onehot optim optimizer optimizers
    param params perplexity popen pos posenc postnorm pred preds prenorm preprocess
    preprocessing prev prob probs proj projs pytorch
    qkv quantize
    randint randn randperm regex relu repr reshape resnet reusability reusable rlimit rlimits
    rnn rope rotary rsqrt
    sched scheduler schedulers segfault seq seqs setattr sgd sigmoid silu sinusoid sinusoidal
    softmax softplus sqrt src starttag stdout str subword subwords succ swiglu symlink symlinks
    symtable
    tanh tensor tensors tgt tokenize tokenized tokenizer tokenizers topk torchtext tqdm
    transformer transformers tril triu tuple tuples
    uint unbatched unflatten uniform unigram unmasked unparse unsqueeze upsample util utils
    val vals var vec vecs vocab vocabs
    warmup wikitext
    xavier
    zeros
"""

VOCABULARY: frozenset[str] = frozenset(_TERMS.split())
"""The terms above, lower case."""
