"""A generated customer-service knowledge base and dialogues (no download, deterministic).

An online shop's help desk, written from templates:

* :func:`faq_knowledge_base` — one :class:`FAQEntry` per *intent* (``"refund_status"``,
  ``"reset_password"``, ...): several paraphrased customer questions and one canonical
  answer. The seed picks the shop's policies (return window, delivery times, free-shipping
  threshold, opening hours...), the products named in the questions and the paraphrases'
  order and wording, so two seeds give two different but equally valid shops.
* :func:`customer_service_dialogues` — ``n`` short conversations as plain text::

      Customer: Hi, where is my order?
      Agent: Sure, I can help with that. Orders ship within 2 business days ...
      Customer: No, that's all. Thanks!
      Agent: You're welcome. Have a nice day!

  ready to train a small language model or a chatbot on.

Categories: orders, shipping, returns, refunds, payments, account, products, support.
Everything is generated with :class:`random.Random` (the global random state is untouched).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FAQEntry", "faq_knowledge_base", "customer_service_dialogues", "CUSTOMER", "AGENT"]

CUSTOMER = "Customer:"
AGENT = "Agent:"

_PRODUCTS = [
    "wireless headphones", "hiking boot", "coffee maker", "backpack", "desk lamp",
    "yoga mat", "phone case", "smart watch", "rain jacket", "bluetooth speaker",
    "water bottle", "office chair", "electric kettle", "winter coat", "gaming mouse",
]

# intent -> (category, question templates, answer template). Slots: {product}, and the
# policy values of _policies() ({return_days}, {ship_days}, ...).
_INTENTS: dict[str, tuple[str, list[str], str]] = {
    "order_status": ("orders", [
        "Where is my order?",
        "What is the status of my order?",
        "Has my {product} order shipped yet?",
        "I ordered {a_product} last week, when will it arrive?",
        "Can you check on my order for me?",
        "My order still hasn't arrived, what is going on?",
        "How do I see where my purchase is?",
        "Is my {product} on its way?",
    ], "You can see the status of every order under Account > My orders. Orders ship within "
       "{ship_days} business days, and you get an e-mail with a tracking link as soon as yours leaves our warehouse."),
    "cancel_order": ("orders", [
        "How do I cancel my order?",
        "I want to cancel the {product} I just bought.",
        "Can I still cancel an order I placed today?",
        "Please cancel my purchase.",
        "I changed my mind about my order, can I stop it?",
        "Is it possible to call off an order?",
        "I ordered the wrong {product}, can you cancel it?",
        "How can I undo an order?",
    ], "You can cancel an order free of charge within {cancel_hours} hours of placing it: open Account > "
       "My orders and press Cancel. After that it has shipped and you can return it instead."),
    "change_address": ("orders", [
        "How do I change my delivery address?",
        "I entered the wrong shipping address.",
        "Can I update the address on my order?",
        "I moved, can you send my {product} to a new address?",
        "My address on the order is wrong, how can I fix it?",
        "Can I have my package delivered somewhere else?",
        "How can I edit where my order is shipped?",
        "I need to correct the street name on my order.",
    ], "You can change the delivery address until the order ships: open Account > My orders, choose the "
       "order and press Edit address. Once it has shipped, the carrier's tracking page lets you redirect it."),
    "shipping_time": ("shipping", [
        "How long does delivery take?",
        "How many days until I get my {product}?",
        "What are your shipping times?",
        "When will my package be delivered?",
        "How fast do you ship?",
        "How long is standard delivery?",
        "If I order {a_product} today, when does it come?",
        "Do you have express delivery, and how quick is it?",
    ], "Standard delivery takes {std_days} business days and express delivery takes {express_days} business "
       "days. Orders ship within {ship_days} business days."),
    "shipping_cost": ("shipping", [
        "How much does shipping cost?",
        "Is delivery free?",
        "What do you charge for postage?",
        "Do I have to pay for shipping on {a_product}?",
        "When is shipping free?",
        "What are the delivery fees?",
        "How much is express shipping?",
        "Is there a minimum order for free delivery?",
    ], "Standard shipping costs {ship_fee} and is free on orders over {free_over}. Express shipping costs {express_fee}."),
    "international_shipping": ("shipping", [
        "Do you ship internationally?",
        "Can you deliver abroad?",
        "Do you send orders to other countries?",
        "Can I order {a_product} from outside the country?",
        "Which countries do you ship to?",
        "Is worldwide delivery available?",
        "Can you ship my order overseas?",
        "Do you deliver outside the country, and do I pay customs?",
    ], "We ship to {n_countries} countries. International delivery takes {intl_days} business days, and "
       "customs duties are paid by the recipient on delivery."),
    "track_package": ("shipping", [
        "How do I track my package?",
        "Where can I find my tracking number?",
        "I didn't get a tracking link for my {product}.",
        "How can I follow my delivery?",
        "Can you send me the tracking code?",
        "The tracking page is not updating, what should I do?",
        "Is there a way to track my parcel?",
        "Where do I see the tracking information?",
    ], "The tracking number is in the shipping confirmation e-mail and under Account > My orders. Tracking "
       "can take up to {track_hours} hours to update after the parcel leaves our warehouse."),
    "return_policy": ("returns", [
        "What is your return policy?",
        "Can I return an item?",
        "How long do I have to return {a_product}?",
        "Can I send back something I don't like?",
        "Do you accept returns on used items?",
        "Is there a time limit for returns?",
        "Can I return {a_product} I bought on sale?",
        "What can be returned and until when?",
    ], "You can return any unused item in its original packaging within {return_days} days of delivery, "
       "sale items included."),
    "return_process": ("returns", [
        "How do I return an item?",
        "How do I send back my {product}?",
        "What are the steps to make a return?",
        "Where do I get a return label?",
        "How do I start a return?",
        "Do I have to pay for the return shipping?",
        "Where should I ship my return to?",
        "I want to return my {product}, what do I do?",
    ], "Start a return under Account > My orders > Return item. We e-mail you a prepaid return label; pack "
       "the item, stick the label on the box and drop it at any post office."),
    "damaged_item": ("returns", [
        "My item arrived damaged.",
        "The {product} I received is broken.",
        "My package came with a defective product.",
        "What do I do if my order is damaged?",
        "The {product} doesn't work out of the box.",
        "The box was crushed and the item is broken.",
        "I received a faulty item, can you help?",
        "Something in my order is cracked.",
    ], "We are sorry about that. Send us a photo of the damage through Account > My orders > Report a "
       "problem within {damage_days} days of delivery, and we will ship a free replacement or refund you in full."),
    "wrong_item": ("returns", [
        "I received the wrong item.",
        "You sent me the wrong {product}.",
        "This is not what I ordered.",
        "My order has an item that isn't mine.",
        "I got the wrong size, what should I do?",
        "The product in the box is different from my order.",
        "You shipped me someone else's order.",
        "The colour of the {product} is not the one I ordered.",
    ], "We are sorry for the mix-up. Report it under Account > My orders > Report a problem; we send the "
       "right item at no cost together with a prepaid label to return the wrong one."),
    "refund_status": ("refunds", [
        "Where is my refund?",
        "When will I get my money back?",
        "I returned my {product}, when is the refund coming?",
        "How long do refunds take?",
        "I still haven't received my refund.",
        "Has my refund been processed?",
        "How long until the refund shows on my card?",
        "My return arrived, where is my money?",
    ], "Refunds are issued within {refund_days} business days after your return reaches our warehouse, to "
       "the original payment method. Your bank may need a few more days to show it."),
    "refund_method": ("refunds", [
        "Can I get a refund to a different card?",
        "Can I have store credit instead of a refund?",
        "How is my refund paid?",
        "Will the refund go back to my original payment method?",
        "Can you refund me in cash?",
        "My old card expired, where does my refund go?",
        "Can I exchange the {product} instead of getting a refund?",
        "Do you refund to PayPal?",
    ], "Refunds always go back to the original payment method. If you prefer, you can choose store "
       "credit or an exchange when you start the return; store credit is added instantly."),
    "payment_methods": ("payments", [
        "What payment methods do you accept?",
        "Can I pay with PayPal?",
        "Do you take credit cards?",
        "Can I pay for {a_product} in instalments?",
        "Which cards can I use?",
        "Is cash on delivery possible?",
        "Do you accept Apple Pay?",
        "How can I pay for my order?",
    ], "We accept Visa, Mastercard, American Express, PayPal and Apple Pay. Orders over {instalment_over} "
       "can be paid in {n_instalments} interest-free instalments. We do not offer cash on delivery."),
    "payment_failed": ("payments", [
        "My payment was declined.",
        "Why did my card payment fail?",
        "I can't complete the checkout for my {product}.",
        "The payment didn't go through.",
        "I was charged but the order failed.",
        "Checkout says my card was refused.",
        "Why was my payment rejected?",
        "There is an error when I try to pay.",
    ], "Check that the card details and billing address match your bank's records, then try again. If "
       "the order failed after a charge, the amount is released automatically within {release_days} business days."),
    "invoice": ("payments", [
        "How do I get an invoice?",
        "Can I have a receipt for my {product}?",
        "I need a VAT invoice for my order.",
        "Where can I download my receipt?",
        "Can you send me a bill for my purchase?",
        "I need an invoice with my company name.",
        "How do I print my receipt?",
        "Where are my invoices?",
    ], "Every invoice can be downloaded as a PDF under Account > My orders > Invoice. To add a company name "
       "or VAT number, edit your billing details before the order ships."),
    "discount_code": ("payments", [
        "My discount code doesn't work.",
        "How do I use a promo code?",
        "Where do I enter a coupon?",
        "Why was my voucher rejected?",
        "Can I use two discount codes at once?",
        "Is there a discount on the {product}?",
        "The coupon code says it is invalid.",
        "Can I apply a discount after ordering?",
    ], "Enter the code in the Promo code box at checkout. One code can be used per order, codes cannot be "
       "applied after ordering, and some codes exclude sale items or have a minimum order value."),
    "reset_password": ("account", [
        "How do I reset my password?",
        "I forgot my password.",
        "I can't log in to my account.",
        "How can I change my password?",
        "The password reset e-mail never arrived.",
        "I am locked out of my account.",
        "My login isn't working.",
        "I need a new password for my account.",
    ], "Press Forgot password on the sign-in page and enter your e-mail address; the reset link is valid "
       "for {reset_minutes} minutes. If the e-mail does not arrive, check your spam folder."),
    "change_email": ("account", [
        "How do I change my e-mail address?",
        "I want to update the email on my account.",
        "Can I use a different email to log in?",
        "How do I edit my account details?",
        "I need to change my phone number on my account.",
        "My e-mail address changed, how do I update it?",
        "Where can I update my personal information?",
        "Can I change the name on my account?",
    ], "Open Account > Settings > Personal details to change your e-mail address, name or phone number. "
       "We send a confirmation link to the new e-mail address before the change takes effect."),
    "delete_account": ("account", [
        "How do I delete my account?",
        "I want to close my account.",
        "Please remove all my personal data.",
        "Can you erase my account and data?",
        "How can I deactivate my profile?",
        "I don't want an account with you anymore.",
        "How do I unsubscribe and delete my data?",
        "Can I permanently delete my account?",
    ], "You can delete your account under Account > Settings > Privacy > Delete account. Your personal data "
       "is erased within {erase_days} days; invoices are kept as the law requires."),
    "newsletter": ("account", [
        "How do I unsubscribe from your emails?",
        "Stop sending me newsletters.",
        "I get too many marketing e-mails.",
        "How can I opt out of promotions?",
        "Can I turn off the newsletter?",
        "How do I sign up for your newsletter?",
        "I want deals on the {product} by e-mail.",
        "Where do I manage my e-mail preferences?",
    ], "Manage your e-mail preferences under Account > Settings > Notifications, or use the Unsubscribe "
       "link at the bottom of any newsletter. Order and shipping e-mails are always sent."),
    "product_availability": ("products", [
        "When will the {product} be back in stock?",
        "Is this item available?",
        "The {product} is sold out, will you restock it?",
        "Can I pre-order an out of stock item?",
        "Do you have this product in my size?",
        "Will you get more of the {product}?",
        "How do I know when an item is available again?",
        "Is the {product} still in stock?",
    ], "Press Notify me on the product page and we will e-mail you as soon as it is back in stock. Most "
       "items are restocked within {restock_weeks} weeks."),
    "warranty": ("products", [
        "Does the {product} have a warranty?",
        "How long is the guarantee?",
        "My {product} stopped working after a few months.",
        "How do I make a warranty claim?",
        "Is there a warranty on electronics?",
        "What does the warranty cover?",
        "The product broke after two months, can you repair it?",
        "Can I extend the warranty?",
    ], "Every product has a {warranty_years}-year warranty against manufacturing defects. Start a claim under "
       "Account > My orders > Report a problem with a description and a photo of the fault."),
    "product_info": ("products", [
        "What size should I choose?",
        "Is the {product} waterproof?",
        "Where can I find the product specifications?",
        "What material is the {product} made of?",
        "Can you tell me more about this product?",
        "Is there a size guide?",
        "What are the dimensions of the {product}?",
        "How do I pick the right model?",
    ], "Sizes, materials, dimensions and care instructions are listed under Details on every product page, "
       "with a size guide for clothing and shoes. Our team can also advise you in the chat."),
    "contact_human": ("support", [
        "I want to talk to a person.",
        "How can I contact customer service?",
        "What is your phone number?",
        "Can I speak to a human agent?",
        "What are your opening hours?",
        "How do I reach your support team?",
        "Is there a live chat?",
        "When is customer support available?",
    ], "Our support team is available by chat and phone from {open_hour}:00 to {close_hour}:00, Monday to "
       "Saturday. Outside those hours, leave a message and we reply within {reply_hours} hours."),
}

_PREFIXES = ["", "", "", "Hi, ", "Hello, ", "Hey, ", "Quick question: ", "Good morning. "]
_SUFFIXES = ["", "", "", " Thanks.", " Thank you!", " Please help.", " Any idea?"]

_OPENERS = [
    "Sure, I can help with that.", "Thanks for reaching out.", "Happy to help.",
    "Of course.", "Thanks for your message.", "Good question.",
]
_CLOSERS = [
    "Is there anything else I can help with?", "Anything else I can do for you?",
    "Let me know if you have any other questions.", "",
]
_FOLLOW_UPS = [
    "Okay, and one more thing:", "Thanks. Another question:", "Got it. Also,", "I see. And",
]
_GOODBYES = [
    ("No, that's all. Thanks!", "You're welcome. Have a nice day!"),
    ("That's everything, thank you.", "Glad I could help. Goodbye!"),
    ("Great, thanks for your help.", "My pleasure. Have a great day!"),
]


@dataclass(frozen=True)
class FAQEntry:
    """One intent of the knowledge base.

    Attributes:
        intent: a short id, e.g. ``"refund_status"`` (unique in the knowledge base).
        category: one of ``orders, shipping, returns, refunds, payments, account, products, support``.
        questions: paraphrases of the same customer question (8 per intent, all different).
        answer: the canonical answer, with the shop's policy values filled in.
    """

    intent: str
    category: str
    questions: tuple[str, ...]
    answer: str
    policy: dict = field(default_factory=dict, compare=False, repr=False)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return seed


def _policies(rng: random.Random) -> dict:
    """The shop's policy numbers, drawn once per seed (answers quote them)."""
    std = rng.choice([2, 3, 4])
    open_hour = rng.choice([7, 8, 9])
    return {
        "ship_days": rng.choice([2, 3]),
        "cancel_hours": rng.choice([1, 2, 12, 24]),
        "std_days": f"{std} to {std + 2}",
        "express_days": rng.choice(["1", "1 to 2"]),
        "ship_fee": rng.choice(["$3.99", "$4.95", "$5.50"]),
        "free_over": rng.choice(["$35", "$50", "$75"]),
        "express_fee": rng.choice(["$9.99", "$12.50", "$14.00"]),
        "n_countries": rng.choice([25, 40, 60]),
        "intl_days": rng.choice(["6 to 10", "7 to 14", "10 to 15"]),
        "track_hours": rng.choice([12, 24, 48]),
        "return_days": rng.choice([14, 30, 60]),
        "damage_days": rng.choice([7, 14]),
        "refund_days": rng.choice([3, 5, 7]),
        "instalment_over": rng.choice(["$100", "$150", "$200"]),
        "n_instalments": rng.choice([3, 4]),
        "release_days": rng.choice([3, 5]),
        "reset_minutes": rng.choice([30, 60]),
        "erase_days": rng.choice([14, 30]),
        "restock_weeks": rng.choice(["2 to 3", "3 to 4", "4 to 6"]),
        "warranty_years": rng.choice([1, 2, 3]),
        "open_hour": open_hour,
        "close_hour": open_hour + rng.choice([9, 10, 12]),
        "reply_hours": rng.choice([12, 24]),
    }


def _fill(template: str, product: str) -> str:
    article = "an" if product[0] in "aeiou" else "a"
    return template.format(product=product, a_product=f"{article} {product}")


def _dress(question: str, rng: random.Random) -> str:
    """Add a greeting/politeness (or not) around a question, keeping the capitals right."""
    prefix, suffix = rng.choice(_PREFIXES), rng.choice(_SUFFIXES)
    if prefix and not prefix.endswith(". "):
        question = question[0].lower() + question[1:] if not question.startswith("I ") else question
    return f"{prefix}{question}{suffix}"


def faq_knowledge_base(seed: int = 0) -> list[FAQEntry]:
    """The help desk's knowledge base: 25 intents × 8 paraphrased questions + one answer each.

    Args:
        seed: picks the policies quoted in the answers, the products named in the questions,
            the greetings around them and the order of the paraphrases (same seed → same list).

    Returns:
        ``list[FAQEntry]`` in a fixed intent order (the intents never change with the seed;
        use e.g. the first 5 questions of each entry to build an index and the other 3 as
        held-out paraphrases).
    """
    rng = random.Random(_check_seed(seed))
    policy = _policies(rng)
    entries = []
    for intent, (category, templates, answer) in _INTENTS.items():
        order = list(range(len(templates)))
        rng.shuffle(order)
        questions, seen = [], set()
        for i in order:
            q = _dress(_fill(templates[i], rng.choice(_PRODUCTS)), rng)
            if q.lower() in seen:  # never happens with these templates, but stay safe
                q = _fill(templates[i], _PRODUCTS[i])
            seen.add(q.lower())
            questions.append(q)
        entries.append(FAQEntry(intent, category, tuple(questions), answer.format(**policy), dict(policy)))
    return entries


def customer_service_dialogues(n: int, seed: int = 0, max_turns: int = 3) -> list[str]:
    """``n`` customer-service conversations as text, answers taken from :func:`faq_knowledge_base`.

    Each dialogue has 1 to ``max_turns`` customer questions, each answered by the agent with an
    opener, the canonical answer of the question's intent and (sometimes) a closing question,
    and ends with a goodbye exchange. Lines start with ``"Customer: "`` or ``"Agent: "``; the
    dialogue ends with a newline.

    Args:
        n: number of dialogues (≥ 1).
        seed: the seed of both the knowledge base and the dialogues (same seed → same texts).
        max_turns: most questions per dialogue (≥ 1).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise ValueError(f"max_turns must be a positive int, got {max_turns!r}")
    kb = faq_knowledge_base(seed)
    rng = random.Random(f"dialogues-{seed}")
    dialogues = []
    for _ in range(n):
        turns = rng.randint(1, max_turns)
        intents = rng.sample(kb, turns)
        lines = []
        for t, entry in enumerate(intents):
            question = rng.choice(entry.questions)
            if t > 0:  # a follow-up: drop the greeting, lead in with a connective
                for prefix in filter(None, _PREFIXES):
                    question = question.removeprefix(prefix)
                if not question.startswith("I "):
                    question = question[0].lower() + question[1:]
                question = f"{rng.choice(_FOLLOW_UPS)} {question}"
            closer = rng.choice(_CLOSERS)
            reply = " ".join(part for part in (rng.choice(_OPENERS), entry.answer, closer) if part)
            lines += [f"{CUSTOMER} {question}", f"{AGENT} {reply}"]
        bye_customer, bye_agent = rng.choice(_GOODBYES)
        lines += [f"{CUSTOMER} {bye_customer}", f"{AGENT} {bye_agent}"]
        dialogues.append("\n".join(lines) + "\n")
    return dialogues
