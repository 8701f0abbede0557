"""Writes the demo instance's sample data into src/demo/data/ (built into the binary).

Usage: python3 tools/demo_data.py [OUT_DIR]

Deterministic (a fixed seed): running it again writes the same files. Three sources:

- crm_contacts.csv: a CRM's contacts, some entered twice (an email in other case, a name
  without its diacritics), and households that share a phone number.
- webshop_customers.jsonl: a web shop's customers; most are also CRM contacts, written their
  own way (emails in other case, names with or without diacritics, phones in another format).
- orders.csv: the web shop's orders, each naming a web shop customer by its number.

A unification that matches on email (trim, lowercase) and on phone digits with the first
name folded to ASCII and lower case merges the overlaps and the duplicates, and keeps the
members of a household (one phone, two first names) apart.
"""
import csv
import json
import os
import random
import sys

SEED = 20261202
CRM_CONTACTS = 2400
WEBSHOP_CUSTOMERS = 2000
SHARED = 1400  # web shop customers who are also CRM contacts
CRM_DUPLICATES = 120
HOUSEHOLDS = 80
ORDERS = 7000

FIRST = [
    "Anna", "Björn", "Chloé", "Dmitri", "Élodie", "Fatima", "Günther", "Hana", "Inés", "Jörg",
    "Karin", "Léa", "Mateo", "Nuño", "Oskar", "Paulo", "Quentin", "Renée", "Søren", "Tomás",
    "Ulla", "Valérie", "Wojciech", "Xavier", "Yasmin", "Zoë", "Liam", "Emma", "Noah", "Olivia",
]
LAST = [
    "Müller", "García", "Dubois", "Nowak", "Jensen", "Rossi", "Öztürk", "Peña", "Åberg",
    "Schröder", "Novák", "Fernández", "Lefèvre", "Kowalski", "Hansen", "Bianchi", "Łukasik",
    "Martín", "Fischer", "Moreau", "Smith", "Brown", "Wilson", "Taylor", "Clark",
]
CITIES = [
    ("Berlin", "DE", "+49"), ("Madrid", "ES", "+34"), ("Paris", "FR", "+33"),
    ("Warsaw", "PL", "+48"), ("Copenhagen", "DK", "+45"), ("Milan", "IT", "+39"),
    ("Seattle", "US", "+1"), ("Lyon", "FR", "+33"), ("Munich", "DE", "+49"),
]
CHANNELS = ["web", "app", "store"]
FOLD = str.maketrans(
    "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŁłŚśŻżŹź",
    "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyyLlSsZzZz",
)


def plain(text):
    """The name without its diacritics, as a system without them would store it."""
    return text.translate(FOLD).replace("ß", "ss")


def email_of(first, last, n):
    return f"{plain(first).lower()}.{plain(last).lower()}{n}@example.com"


def phone_digits(rng, code):
    return code.lstrip("+") + "".join(rng.choice("0123456789") for _ in range(9))


def crm_phone(digits):
    # "+49 301 234 567": spaces
    return f"+{digits[:-9]} {digits[-9:-6]} {digits[-6:-3]} {digits[-3:]}"


def shop_phone(digits):
    # "(+49) 301-234567": another format, the same digits
    return f"(+{digits[:-9]}) {digits[-9:-6]}-{digits[-6:]}"


def people(rng):
    out = []
    for n in range(CRM_CONTACTS + WEBSHOP_CUSTOMERS - SHARED):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country, code = rng.choice(CITIES)
        out.append({
            "first": first, "last": last, "email": email_of(first, last, n),
            "phone": phone_digits(rng, code), "city": city, "country": country,
        })
    # Households: a second person at the same phone number, with another first name.
    for person in rng.sample(out[:CRM_CONTACTS], HOUSEHOLDS):
        person["household"] = {"first": rng.choice(FIRST)}
    return out


def write_crm(path, rng, everyone):
    rows = []
    for n, person in enumerate(everyone[:CRM_CONTACTS]):
        rows.append([f"C{n + 1:05d}", person["first"], person["last"], person["email"],
                     crm_phone(person["phone"]), person["city"], person["country"],
                     f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"])
        if "household" in person:
            first = person["household"]["first"]
            rows.append([f"H{n + 1:05d}", first, person["last"],
                         email_of(first, person["last"], 90000 + n), crm_phone(person["phone"]),
                         person["city"], person["country"], "2025-01-15"])
    # The same contact entered twice: the email in other case, the name without diacritics.
    for person in rng.sample(everyone[:CRM_CONTACTS], CRM_DUPLICATES):
        rows.append([f"D{len(rows) + 1:05d}", plain(person["first"]), plain(person["last"]),
                     person["email"].upper() if rng.random() < 0.5 else person["email"].title(),
                     "", person["city"], person["country"], "2025-06-01"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["ContactId", "FirstName", "LastName", "Email", "Phone", "City",
                      "Country", "CreatedOn"])
        out.writerows(rows)
    return len(rows)


def write_webshop(path, rng, everyone):
    start = CRM_CONTACTS - SHARED
    shoppers = everyone[start:start + WEBSHOP_CUSTOMERS]
    with open(path, "w", encoding="utf-8") as f:
        for n, person in enumerate(shoppers):
            email = person["email"]
            if rng.random() < 0.3:
                email = email.capitalize()
            first = plain(person["first"]) if rng.random() < 0.4 else person["first"]
            last = plain(person["last"]) if rng.random() < 0.4 else person["last"]
            record = {
                "CustomerNumber": f"W{n + 1:05d}",
                "FirstName": first.lower() if rng.random() < 0.2 else first,
                "LastName": last,
                "FullName": f"{first} {last}",
                "EmailAddress": f"  {email} " if rng.random() < 0.1 else email,
                "Mobile": shop_phone(person["phone"]),
                "LoyaltyTier": rng.choice(["bronze", "silver", "gold"]),
                "Newsletter": rng.random() < 0.5,
                "SignedUp": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(shoppers)


def write_orders(path, rng, customers):
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["OrderId", "CustomerNumber", "OrderedAt", "Amount", "Channel"])
        # A few customers order a lot, most a little, a quarter never; one order in ten names
        # a customer number the web shop does not know (its CustomerId is null).
        weights = [rng.paretovariate(1.5) if rng.random() < 0.75 else 0.0 for _ in range(customers)]
        for n in range(ORDERS):
            known = rng.random() < 0.9
            customer = rng.choices(range(1, customers + 1), weights)[0] if known else None
            number = f"W{customer:05d}" if customer else f"W{customers + rng.randint(1, 50):05d}"
            out.writerow([
                f"O{n + 1:06d}", number,
                f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}:00Z",
                f"{rng.uniform(5, 400):.2f}", rng.choice(CHANNELS),
            ])
    return ORDERS


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "src", "demo", "data")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    everyone = people(rng)
    crm = write_crm(os.path.join(out, "crm_contacts.csv"), rng, everyone)
    shop = write_webshop(os.path.join(out, "webshop_customers.jsonl"), rng, everyone)
    orders = write_orders(os.path.join(out, "orders.csv"), rng, shop)
    print(f"crm_contacts.csv: {crm} contacts; webshop_customers.jsonl: {shop} customers; "
          f"orders.csv: {orders} orders")


if __name__ == "__main__":
    main()
