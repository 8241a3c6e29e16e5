"""Independent re-computations used as test oracles: the csv module, no pandas, no workbook."""

import csv
from collections import defaultdict
from datetime import datetime

FIELDS = 9
REQUIRED = (1, 5, 6, 7, 8)  # timestamp, quantity, unit_price, discount, payment_type


def independent_totals(path, by_store: bool = False) -> dict:
    """Net revenue per category (or per (store, category)), following the data dictionary's
    rules line by line: skip malformed lines, trim, title-case, fill categories from the same
    product, keep the first line of each order_id."""
    rows, categories = [], {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for fields in reader:
            if len(fields) != FIELDS or any(fields[i] == "" for i in REQUIRED):
                continue
            try:
                datetime.strptime(fields[1], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                continue
            store, product = fields[2].strip(), fields[3].strip()
            category = fields[4].strip().title()
            rows.append((fields[0], store, product, category, int(fields[5]), float(fields[6]),
                         float(fields[7])))
            if category:
                categories.setdefault(product, category)
    seen, totals = set(), defaultdict(float)
    for order, store, product, category, quantity, price, discount in rows:
        if order in seen:
            continue
        seen.add(order)
        category = category or categories.get(product, "Unknown")
        totals[(store, category) if by_store else category] += quantity * price * (1 - discount)
    return {key: round(value, 2) for key, value in totals.items()}
