#include "client/cli/import_formats.h"

#include <gtest/gtest.h>

namespace custra::cli {
namespace {

TEST(ImportFormatsTest, ParseDecimalMicrosIsExact) {
  EXPECT_EQ(ParseDecimalMicros("12.34"), 12'340'000);
  EXPECT_EQ(ParseDecimalMicros("-0.5"), -500'000);
  EXPECT_EQ(ParseDecimalMicros("7"), 7'000'000);
  EXPECT_EQ(ParseDecimalMicros(".25"), 250'000);
  EXPECT_EQ(ParseDecimalMicros("0.000001"), 1);
  EXPECT_EQ(ParseDecimalMicros(" 3.10 "), 3'100'000);
  for (const char* bad : {"", "-", "1.2.3", "1e3", "abc", "1,000", "0.0000001",
                          "9999999999999"}) {
    EXPECT_EQ(ParseDecimalMicros(bad), std::nullopt) << bad;
  }
}

TEST(ImportFormatsTest, ParseTimeAcceptsCommonFormatsAsUtc) {
  const absl::Time expected = absl::FromCivil(
      absl::CivilSecond(2010, 12, 1, 8, 26, 0), absl::UTCTimeZone());
  EXPECT_EQ(ParseTime("2010-12-01 08:26:00", ""), expected);
  EXPECT_EQ(ParseTime("2010-12-01T08:26:00Z", ""), expected);
  EXPECT_EQ(ParseTime("19970101", ""),
            absl::FromCivil(absl::CivilDay(1997, 1, 1), absl::UTCTimeZone()));
  EXPECT_EQ(ParseTime("19970231", ""), std::nullopt);
  EXPECT_EQ(ParseTime("01/12/2010", "%d/%m/%Y"),
            absl::FromCivil(absl::CivilDay(2010, 12, 1), absl::UTCTimeZone()));
  EXPECT_EQ(ParseTime("yesterday", ""), std::nullopt);
}

TEST(ImportFormatsTest, CsvHandlesQuotesAndEmbeddedNewlines) {
  auto records = RecordReader::ParseCsv(
      "id,notes\n1,\"said \"\"hi\"\"\"\n2,\"two\nlines\"\n3,plain\n");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ((*records)[1].fields[1], "said \"hi\"");
  EXPECT_EQ((*records)[2].fields[1], "two\nlines");
  EXPECT_EQ((*records)[2].line, 3);
  EXPECT_EQ((*records)[3].line, 5);
}

TEST(ImportFormatsTest, CdnowLinesBecomeStableTransactions) {
  auto converter = NewCdnowConverter();
  auto header = converter->Convert(
      {{"customer_id", "date", "number_of_cds", "dollar_value"}, 1});
  ASSERT_TRUE(header.ok());
  EXPECT_FALSE(header->has_value());
  auto first = converter->Convert({{"00001", "19970101", "1", "11.77"}, 2});
  auto second = converter->Convert({{"00001", "19970101", "2", "5.00"}, 3});
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*first)->id(), "1-19970101-1");
  EXPECT_EQ((*second)->id(), "1-19970101-2");
  EXPECT_EQ((*first)->customer_id(), "1");
  EXPECT_EQ((*first)->amount().amount_micros(), 11'770'000);
  EXPECT_EQ((*first)->amount().currency_code(), "USD");
  EXPECT_EQ((*first)->time().seconds(), 852076800);  // 1997-01-01 UTC.
  // The sample file's five columns: master id, sample id, date, cds, value.
  auto sample =
      NewCdnowConverter()->Convert({{"4", "1", "19970118", "2", "29.33"}, 1});
  ASSERT_TRUE(sample.ok() && sample->has_value());
  EXPECT_EQ((*sample)->customer_id(), "4");
  EXPECT_FALSE(converter->Convert({{"1", "1997-01-01", "1", "2"}, 4}).ok());
  EXPECT_FALSE(converter->Convert({{"1", "19970101", "1"}, 5}).ok());
}

TEST(ImportFormatsTest, OnlineRetailComputesExactAmountsAndRejectsNoCustomer) {
  auto converter = NewOnlineRetailConverter("GBP");
  ASSERT_TRUE(
      converter
          ->SetHeader({"InvoiceNo", "StockCode", "Description", "Quantity",
                       "InvoiceDate", "UnitPrice", "CustomerID", "Country"})
          .ok());
  auto line = converter->Convert(
      {{"536365", "85123A", "HEART", "6", "2010-12-01 08:26:00", "2.55",
        "17850.0", "United Kingdom"},
       2});
  ASSERT_TRUE(line.ok() && line->has_value());
  EXPECT_EQ((*line)->id(), "536365:1");
  EXPECT_EQ((*line)->customer_id(), "17850");
  EXPECT_EQ((*line)->order_id(), "536365");
  EXPECT_EQ((*line)->amount().amount_micros(), 15'300'000);  // 6 x 2.55
  auto cancelled = converter->Convert(
      {{"C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50",
        "14527.0", "United Kingdom"},
       3});
  ASSERT_TRUE(cancelled.ok() && cancelled->has_value());
  EXPECT_EQ((*cancelled)->amount().amount_micros(), -27'500'000);
  auto anonymous =
      converter->Convert({{"536414", "22139", "x", "56", "2010-12-01 11:52:00",
                           "0", "", "United Kingdom"},
                          4});
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(std::string(*anonymous.status().GetPayload(kRejectColumnUrl)),
            "CustomerID");
}

TEST(ImportFormatsTest, CsvTransactionsUseTheMapping) {
  auto converter = NewCsvTransactionConverter({{"id", "Order Line"},
                                               {"customer_id", "Client"},
                                               {"amount", "Total"},
                                               {"time", "Date"}},
                                              "", "CNY");
  ASSERT_TRUE(
      converter->SetHeader({"Order Line", "Client", "Date", "Total"}).ok());
  auto row = converter->Convert({{"L1", "C9", "2024-03-01", "99.90"}, 2});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->id(), "L1");
  EXPECT_EQ((*row)->customer_id(), "C9");
  EXPECT_EQ((*row)->amount().currency_code(), "CNY");
  EXPECT_EQ((*row)->amount().amount_micros(), 99'900'000);
  auto missing = NewCsvTransactionConverter({}, "", "");
  EXPECT_FALSE(missing->SetHeader({"id", "customer_id", "time"}).ok());
}

}  // namespace
}  // namespace custra::cli
