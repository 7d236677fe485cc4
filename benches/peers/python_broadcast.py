#!/usr/bin/env python3
"""Broadcast one message to N private chats the way Python bot authors do, for the fan-out bench.

Two peers, both awaiting each send in turn and, on a 429, sleeping the `retry_after` Telegram
names and sending again:

  aiogram  aiogram 3, the usual loop with `await asyncio.sleep(1/30)` after each chat
           (`--interval 0` leaves the sleep out). aiogram ships no outgoing rate limiter.
  ptb      python-telegram-bot with its packaged `AIORateLimiter()` (defaults: 30/s overall,
           20/min a group, no retries of its own), built with `ApplicationBuilder` as its
           docs show (`--no-limiter` builds it without one).

Both are pointed at a Bot API server by URL (the fan-out bench's emulator). What this script
reports on stdout (one JSON object) is its own view; the bench measures rates and 429s from
the server's request log, not from this.

    python_broadcast.py --peer aiogram --api http://127.0.0.1:PORT/ --token T \
        --first-chat 100000000 --count 600 --text '<b>hi</b>'
"""

import argparse
import asyncio
import json
import sys
import time
from importlib import metadata

# A chat that keeps getting 429s is given up after this many tries, so a run always ends.
MAX_TRIES = 10


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", choices=["aiogram", "ptb"], required=True)
    p.add_argument("--api", required=True, help="Bot API base URL, e.g. http://127.0.0.1:8081/")
    p.add_argument("--token", required=True)
    p.add_argument("--first-chat", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--text", required=True, help="the message, in HTML")
    p.add_argument(
        "--interval", type=float, default=1 / 30, help="aiogram: seconds slept after each chat"
    )
    p.add_argument("--no-limiter", action="store_true", help="ptb: no AIORateLimiter")
    return p.parse_args()


async def broadcast(send, retry_after_of, chats, text, interval):
    """The loop: send to each chat in turn, wait out a 429 and send again, sleep `interval`."""
    report = {"sent": 0, "retry_after": 0, "failed": 0, "errors": []}
    for chat in chats:
        for _ in range(MAX_TRIES):
            try:
                await send(chat, text)
                report["sent"] += 1
                break
            except Exception as exc:  # noqa: BLE001 (the library's errors, whatever they are)
                wait = retry_after_of(exc)
                if wait is None:
                    report["failed"] += 1
                    if len(report["errors"]) < 5:
                        report["errors"].append(f"{chat}: {type(exc).__name__}: {exc}")
                    break
                report["retry_after"] += 1
                await asyncio.sleep(wait)
        else:
            report["failed"] += 1
        if interval > 0:
            await asyncio.sleep(interval)
    return report


async def run_aiogram(args, chats):
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramRetryAfter

    session = AiohttpSession(api=TelegramAPIServer.from_base(args.api.rstrip("/")))
    bot = Bot(token=args.token, session=session)

    async def send(chat, text):
        await bot.send_message(chat_id=chat, text=text, parse_mode="HTML")

    def retry_after_of(exc):
        return exc.retry_after if isinstance(exc, TelegramRetryAfter) else None

    try:
        report = await broadcast(send, retry_after_of, chats, args.text, args.interval)
    finally:
        await bot.session.close()
    report["peer"] = f"aiogram {metadata.version('aiogram')}"
    report["mode"] = (
        f"loop, asyncio.sleep({args.interval:.4f}) after each chat"
        if args.interval > 0
        else "loop, no sleep"
    )
    return report


async def run_ptb(args, chats):
    from telegram.error import RetryAfter
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    # PTB appends the token to `base_url`.
    builder = ApplicationBuilder().token(args.token).base_url(args.api + "bot")
    if not args.no_limiter:
        builder = builder.rate_limiter(AIORateLimiter())
    bot = builder.build().bot

    async def send(chat, text):
        await bot.send_message(chat_id=chat, text=text, parse_mode="HTML")

    def retry_after_of(exc):
        if not isinstance(exc, RetryAfter):
            return None
        # A timedelta since v22 (with the env switch), an int before: ask the private field
        # PTB's own limiter reads, else the public one.
        wait = getattr(exc, "_retry_after", None) or exc.retry_after
        return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)

    async with bot:  # initialize (getMe) and shut down, as Application does
        report = await broadcast(send, retry_after_of, chats, args.text, 0)
    report["peer"] = f"python-telegram-bot {metadata.version('python-telegram-bot')}"
    report["mode"] = "loop, no rate limiter" if args.no_limiter else "loop, AIORateLimiter()"
    return report


def main():
    args = parse_args()
    chats = [args.first_chat + i for i in range(args.count)]
    started = time.monotonic()
    runner = run_aiogram if args.peer == "aiogram" else run_ptb
    report = asyncio.run(runner(args, chats))
    report["asked"] = len(chats)
    report["seconds"] = round(time.monotonic() - started, 3)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
