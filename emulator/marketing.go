package emulator

// marketingColumns are lead columns for website forms: the standard
// industrycode choice, and the custom columns an org typically adds (with
// its publisher's prefix, new_ for the default publisher) to keep a web
// lead's attribution — the page's UTM parameters, click ids and address —
// which Dataverse's lead has no standard column for. They let forms map
// selects and hidden attribution fields onto real column types and limits.
func marketingColumns() []*column {
	return []*column{
		choice("industrycode", nil, map[int]string{
			1: "Accounting", 2: "Agriculture and Non-petrol Natural Resource Extraction", 3: "Broadcasting Printing and Publishing",
			4: "Brokers", 5: "Building Supply Retail", 6: "Business Services", 7: "Consulting", 8: "Consumer Services",
			9: "Design, Direction and Creative Management", 10: "Distributors, Dispatchers and Processors",
			11: "Doctor's Offices and Clinics", 12: "Durable Manufacturing", 13: "Eating and Drinking Places",
			14: "Entertainment Retail", 15: "Equipment Rental and Leasing", 16: "Financial", 17: "Food and Tobacco Processing",
			18: "Inbound Capital Intensive Processing", 19: "Inbound Repair and Services", 20: "Insurance", 21: "Legal Services",
			22: "Non-Durable Merchandise Retail", 23: "Outbound Consumer Service", 24: "Petrochemical Extraction and Distribution",
			25: "Service Retail", 26: "SIG Affiliations", 27: "Social Services", 28: "Special Outbound Trade Contractors",
			29: "Specialty Realty", 30: "Transportation", 31: "Utility Creation and Distribution", 32: "Vehicle Retail", 33: "Wholesale",
		}),
		str("new_utmsource", 200), str("new_utmmedium", 200), str("new_utmcampaign", 200),
		str("new_utmterm", 200), str("new_utmcontent", 200),
		str("new_gclid", 200), str("new_fbclid", 200), str("new_msclkid", 200),
		str("new_pageurl", 2000), str("new_referrer", 2000),
	}
}
