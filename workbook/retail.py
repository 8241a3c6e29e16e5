"""The fictional retailer shared by every level: its stores and its product catalog."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Store:
    store_id: int
    name: str
    city: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Product:
    name: str
    category: str
    unit_price: float


STORES = (
    Store(1, "Seattle Downtown", "Seattle", 47.6062, -122.3321),
    Store(2, "Seattle Ballard", "Seattle", 47.6687, -122.3847),
    Store(3, "Portland Pearl", "Portland", 45.5283, -122.6834),
    Store(4, "San Francisco Mission", "San Francisco", 37.7599, -122.4148),
    Store(5, "Denver LoDo", "Denver", 39.7527, -105.0000),
    Store(6, "Chicago Loop", "Chicago", 41.8837, -87.6289),
)

PRODUCTS = (
    Product("Wireless Earbuds", "Electronics", 59.99),
    Product("USB-C Charger", "Electronics", 19.99),
    Product("Smart Speaker", "Electronics", 89.00),
    Product("Building Blocks Set", "Toys", 34.50),
    Product("Plush Bear", "Toys", 14.99),
    Product("Puzzle 1000 pcs", "Toys", 17.25),
    Product("Café Espresso Beans", "Grocery", 12.80),
    Product("Organic Oats", "Grocery", 4.35),
    Product("Dark Chocolate", "Grocery", 3.10),
    Product("Rain Jacket", "Clothing", 79.00),
    Product("Wool Socks", "Clothing", 11.50),
    Product("Running Shoes", "Sports", 110.00),
    Product("Yoga Mat", "Sports", 25.00),
    Product("Water Bottle", "Sports", 9.75),
    Product("Desk Lamp", "Home", 27.40),
    Product("Scented Candle", "Home", 8.90),
    Product("Paperback Novel", "Books", 13.99),
    Product("Cookbook", "Books", 24.00),
)

CATEGORIES = tuple(sorted({p.category for p in PRODUCTS}))
PAYMENT_TYPES = ("card", "cash", "gift_card", "mobile")

# The retailer's clock: its stores are on the US West Coast, and its daily pipelines run at
# RUN_HOUR local time (the DAGs' "0 9 * * *"); a day's run has that day as its logical date.
TIMEZONE = "America/Los_Angeles"
RUN_HOUR = 9
# Every store opens at OPENS_AT and closes at CLOSES_AT, in its own city's local time.
OPENS_AT, CLOSES_AT = 8, 21
CITY_TIMEZONES = {
    "Seattle": "America/Los_Angeles", "Portland": "America/Los_Angeles",
    "San Francisco": "America/Los_Angeles", "Denver": "America/Denver",
    "Chicago": "America/Chicago",
}
