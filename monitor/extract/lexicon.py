"""The extraction rules as data: lexicons and ordered rule tables (regular-expression fragments).

Every fragment is matched against the *folded* text of a unit (casefolded, smart quotes and dashes
made ASCII, whitespace collapsed), so write fragments in lower case with plain ``'`` and ``-``.
Fragments are joined into one alternation per table and compiled once, lazily (see ``rules.py``).

To add an entry, append a fragment to the right table; the rule name of a rule row is what an analyst
sees in ``Statement.rule``. Order matters in the ``*_RULES`` tables: the first matching row decides.

Speed: a rule's regex only runs on a unit when the unit has a word starting like one of the rule's
*gate words* (first four letters compared; shorter words whole). When you add a fragment, make sure
one of its words is in the row's gate string, or the fragment can never fire
(``tests/test_extract_rules.py`` checks the gates against an ungated run over the corpus).
"""

from __future__ import annotations

# --- number words, for "ninety-day", "eight-week", "one year" ---------------------------------------
NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
UNIT_DAYS: dict[str, int] = {"day": 1, "night": 1, "week": 7, "month": 30, "year": 365}

# --- disease terms: (canonical name, fragment, serious) ----------------------------------------------
DISEASE_TERMS: tuple[tuple[str, str, bool], ...] = (
    ("cancer", r"cancers?|tumou?rs?|carcinoma", True),
    ("diabetes", r"(?:type [12] )?diabet(?:es|ic)|prediabet(?:es|ic)|high blood sugar", True),
    ("hypertension", r"hypertension|high blood pressure|(?:lower|decreas"
        r"|reduc)\w* (?:your )?blood (?:pressure|sugar)", True),
    ("high cholesterol", r"high cholesterol", False),
    ("clogged arteries", r"clogged arteries|unclogs? (?:your )?arteries|plaque in (?:your )?arteries", True),
    ("heart disease", r"heart disease|heart attacks?|cardiovascular disease|heart failure", True),
    ("stroke", r"strokes?", True),
    ("alzheimer's", r"alzheimer'?s?", True),
    ("dementia", r"dementia|cognitive decline", True),
    ("parkinson's", r"parkinson'?s?", True),
    ("arthritis", r"(?:osteo|rheumatoid )?arthritis|osteoarthritis|cartilage damage|joint damage"
     r"|(?:knee|hip|joint) replacements?", False),
    ("osteoporosis", r"osteoporosis", False),
    ("depression", r"depression", False),
    ("anxiety disorder", r"anxiety (?:disorders?|attacks?)|panic (?:disorder|attacks?)|anxiety", False),
    ("insomnia", r"insomnia", False),
    ("adhd", r"adhd|attention deficit", False),
    ("asthma", r"asthma", False),
    ("obesity", r"obesity|obese", False),
    ("erectile dysfunction", r"erectile dysfunction|impotence", False),
    ("enlarged prostate", r"enlarged prostate|prostatitis|bph", False),
    ("covid-19", r"covid(?:-?19)?|coronavirus", True),
    ("flu", r"flu|influenza|colds? and flu|common cold", False),
    ("infection", r"infections?|viruses|bacteria|h\. ?pylori|candida", False),
    ("hepatitis", r"hepatitis", True),
    ("kidney stones", r"kidney stones?|kidney disease", False),
    ("fatty liver", r"fatty liver|liver disease", False),
    ("ibs", r"ibs|irritable bowel|leaky gut", False),
    ("crohn's", r"crohn'?s?|colitis", False),
    ("ulcer", r"ulcers?", False),
    ("psoriasis", r"psoriasis|eczema", False),
    ("neuropathy", r"neuropathy", False),
    ("macular degeneration", r"macular degeneration|cataracts?|glaucoma", False),
    ("restless legs syndrome", r"restless legs?(?: syndrome)?|rls", False),
    ("nocturnal leg cramps", r"(?:nocturnal|night(?:time| time)?|leg|calf|muscle) cramp(?:s|ing)?"
     r"|cramp(?:s|ing)? at night|cramps?|cramping", False),
    ("migraine", r"migraines?", False),
    ("inflammation", r"inflammation|swelling", False),
    ("chronic pain", r"chronic pain|arthritis pain|nerve pain", False),
)

DISEASE_GATE = (
    "cancer cancers tumor tumors tumour carcinoma diabetes diabetic prediabetes prediabetic type high blood"
    " hypertension cholesterol clogged unclog unclogs plaque arteries heart cardiovascular stroke strokes"
    " alzheimer alzheimers alzheimer's dementia cognitive parkinson parkinsons parkinson's arthritis"
    " osteoarthritis rheumatoid cartilage joint osteoporosis depression anxiety panic insomnia adhd attention"
    " asthma obesity obese erectile impotence enlarged prostate prostatitis bph covid covid19 coronavirus flu"
    " influenza cold colds infection infections viruses bacteria pylori candida hepatitis kidney fatty liver"
    " ibs irritable leaky crohn crohns crohn's colitis ulcer ulcers psoriasis eczema neuropathy macular"
    " cataract cataracts glaucoma restless rls cramp cramps cramping migraine migraines inflammation swelling"
    " chronic nerve replacement"
)

TREATMENT_GATE = (
    "cure cures cured curing treat treats treated treating treatment treatments heal heals healed healing"
    " prevent prevents prevented preventing prevention reverse reverses reversed reversing eliminate"
    " eliminates eradicate eradicates fight fights fighting combat combats combating kill kills killed killing"
    " destroy destroys shrink shrinks shrinking dissolve dissolves lower lowers lowered lowering reduce reduces"
    " reduced reducing decrease decreases decreased decreasing dampen dampens relieve relieves relieved"
    " relieving relief alleviate alleviates alleviation remedy remedies mitigate mitigates protect protects"
    " ward wards stop stops stopped stopping end ends conquer conquers conquering beat beats beating banish"
    " wipe wipes unclog unclogs solve solves solving solution resolve resolves resolving fix fixes break rid"
    " manage manages managing designed formulated made work works helpful beneficial useful effective should"
    " taken gone more goodbye good recommend recommended recommends people patients those anyone individuals"
    " adults sufferers women men"
)

# --- verbs that make a disease term a treatment claim -------------------------------------------------
TREATMENT_VERBS: tuple[str, ...] = (
    r"cur(?:e|es|ed|ing)", r"treat(?:s|ed|ing|ment|ments)?", r"heal(?:s|ed|ing)?",
    r"prevent(?:s|ed|ing|ion)?", r"revers(?:e|es|ed|ing)", r"eliminat(?:e|es|ed|ing)", r"eradicat(?:e|es|ed"
        r"|ing)",
    r"fight(?:s|ing)?", r"combat(?:s|ing)?", r"kill(?:s|ed|ing)?", r"destroy(?:s|ed|ing)?",
    r"shrink(?:s|ing)?", r"dissolv(?:e|es|ed|ing)", r"lower(?:s|ed|ing)?", r"reduc(?:e|es|ed|ing)",
    r"decreas(?:e|es|ed|ing)", r"dampen(?:s|ed|ing)?",
    r"reliev(?:e|es|ed|ing)", r"relief", r"alleviat(?:e|es|ed|ing|ion)", r"remed(?:y|ies)",
    r"mitigat(?:e|es|ed|ing)", r"protects? against", r"ward(?:s)? off", r"stop(?:s|ped|ping)?",
    r"ends?", r"conquer(?:s|ing)?", r"beat(?:s|ing)?", r"banish(?:es)?", r"wipes? out", r"unclogs?",
    r"solv(?:e|es|ing)", r"solution", r"resolv(?:e|es|ing)", r"fix(?:es)?", r"break free",
    r"get rid of", r"manag(?:e|es|ing)", r"(?:designed|formulated|made) (?:specifically )?for",
    r"works? for", r"helpful if you have", r"beneficial (?:for|in)", r"useful (?:for|in)",
    r"effective (?:treatment|against|for|in)", r"should be (?:used|taken)", r"be taken .{0,40}for",
    r"gone", r"no more",
    r"for (?:people|patients|those|anyone|individuals|adults|sufferers|women|men) (?:with|suffering (?:from"
        r"|with)|who suffer from)", r"goodbye to", r"good night to",
    r"recommend\w* (?:it )?(?:to|for) (?:my |our |all )?(?:patients|people|anyone|those)",
)

# --- product-class words that are disease claims on their own: 101.93(g)(2)(v) ----------------------
DRUG_CLASS_WORDS: tuple[str, ...] = (
    r"anti-?inflammator(?:y|ies)", r"antivirals?", r"antibacterial", r"antibiotics?", r"anti-?cancer",
    r"antidepressants?", r"analgesics?", r"muscle relaxers?", r"muscle relaxants?", r"antifungal",
)

DRUG_GATE = (
    "ibuprofen celecoxib celebrex advil tylenol aspirin naproxen statin statins beta blocker blockers"
        " metformin"
    " insulin viagra cialis adderall ritalin ambien xanax prozac zoloft phentermine ozempic wegovy imodium"
    " quinine warfarin lipitor painkiller painkillers sleeping sleep aid aids prescription prescriptions drug"
    " drugs medication medications meds pill pills diet surgery anti antiinflammatory antiviral antivirals"
    " antibacterial antibiotic antibiotics anticancer antidepressant antidepressants analgesic analgesics"
    " muscle antifungal blood stool pain inhaler inhalers puffer steroid steroids cortisone biologic stent stents"
    " bypass dialysis chemo chemotherapy antacid antacids laxative laxatives nature nature's herbal"
)

# --- drug names and substitute wording: 101.93(g)(2)(vi) ----------------------------------------------
DRUG_NAMES: tuple[str, ...] = (
    r"ibuprofen", r"celecoxib", r"celebrex", r"advil", r"tylenol", r"aspirin", r"naproxen", r"statins?",
    r"beta[- ]blockers?", r"metformin", r"insulin", r"viagra", r"cialis", r"adderall", r"ritalin",
    r"ambien", r"xanax", r"prozac", r"zoloft", r"phentermine", r"ozempic", r"wegovy", r"imodium",
    r"quinine", r"warfarin", r"lipitor", r"painkillers?", r"sleeping pills?", r"sleep aids?",
    r"(?:prescription|blood pressure|diabetes|cholesterol) (?:drugs?|medications?|meds|pills?)",
    r"(?:prescription )?diet pills?", r"meds", r"medications?", r"prescriptions?", r"pills",
    r"surgery",
    # classes and treatments a product may be offered in place of (FDA's "therapy for a disease")
    r"blood thinners?", r"stool softeners?", r"pain relievers?", r"inhalers?", r"puffers?", r"steroids?",
    r"cortisone (?:shots?|injections?)", r"biologic (?:injections?|drugs?)", r"stents?", r"bypass(?: surgery)?",
    r"dialysis", r"chemo(?:therapy)?", r"antacids?", r"laxatives?",
)
DRUG_SUBSTITUTE: tuple[str, ...] = (
    r"(?:natural |safer |better )?alternative to", r"instead of (?:your |taking )?", r"replaces? (?:your )?",
    r"better than", r"works like", r"natural (?=viagra|adderall|xanax|ambien|statins?|insulin)",
    r"(?:stop|quit|ditch|throw(?:n)? (?:away|out)|threw (?:away|out)|get off|cut back on|come off|off) "
    r"(?:taking )?(?:of )?(?:your |my |his |her |their |all |two |three )?",
    r"never need (?:a |your |another )?", r"no (?:more|longer need)(?: any)? ",
    r"took me off (?:of )?(?:my |two |three |all )?",
    # comparisons with a drug: "nature's Celebrex", "does the same job as Flomax", "as effective as ibuprofen",
    # "unlike blood thinners" (21 CFR 101.93(g)(2)(vi); FDA's 2000 rule gives "herbal Prozac" as an example)
    r"nature'?s (?:own )?", r"herbal ", r"(?:same|similar) (?:job|way|effect|results?) as (?:a |an |your )?",
    r"as (?:effective|good|well|powerful|strong|fast|quickly) as (?:a |an |your |taking )?",
    r"(?:more effective|faster|stronger|gentler) than (?:a |an |your )?", r"unlike (?:a |an |your )?",
    r"(?:ditch(?:ing|ed)?|dropp(?:ing|ed)|skip(?:ping|ped)?|replac(?:ing|ed)|swap(?:ping|ped)?|stay off"
    r"|ditching) (?:their |your |my |his |her |the )?",
)

# --- "the product or its ingredients" anchors: a claim needs something to be about --------------------
PRODUCT_ANCHORS: tuple[str, ...] = (
    r"supplements?", r"supplementation", r"supplementing", r"formulas?", r"formulation", r"capsules?",
    r"softgels?", r"gummies", r"tablets?", r"powder", r"products?", r"extracts?", r"blend", r"complex",
    r"dose", r"our", r"users?", r"customers?", r"most (?:men|women|people|adults)",
    r"buyers?", r"clients?", r"participants", r"nutrients?", r"ingredients?", r"vitamins?",
    r"minerals?", r"magnesium", r"mg", r"glycinate", r"citrate", r"zinc", r"melatonin", r"valerian",
    r"turmeric", r"curcumin", r"boswellia", r"glucosamine", r"chondroitin", r"elderberry", r"echinacea",
    r"probiotics?", r"strains?", r"fish oil", r"omega-?3s?", r"coq10", r"collagen", r"ashwagandha",
    r"l-theanine", r"theanine", r"gaba", r"5-htp", r"b6", r"b12", r"d3", r"glycine", r"garcinia",
    r"green (?:coffee|tea)", r"glucomannan", r"chromium", r"tongkat ali", r"fenugreek", r"bacopa",
    r"lion's mane", r"ginkgo", r"herbs?", r"herbal", r"remedy", r"therapy", r"beta-glucans?", r"catechins",
)

# a section that never uses one of these words does not speak as a seller: narrative (features.ctx:narrative)
SELLER_WORDS = (
    r"our|we|we've|we're|formula|capsules?|softgels?|gummies|tablets|bottles?|order|buy|shop"
    r"|cart|guarantee|this (?:product|supplement|blend)"
)

# a first-person sentence with one of these reports a result (a testimonial), else tells a story
OUTCOME_WORDS = (
    r"since|gone|no longer|no more|haven't|hasn't|stopped|finally|now|better|improv\w*|less|fewer"
    r"|disappear\w*|vanish\w*|cleared|went away|back to|again|off (?:my|the|all)|changed|difference|works?|worked"
    r"|helped|helps|after (?:\w+ )?(?:days?|weeks?|months?)|within|sleep(?:ing)? through|free of|relief"
)

# sentence-initial pronouns that stand for the product ("It melts belly fat overnight")
LEADING_PRONOUNS = r"it|it's|they"

# strong treatment verbs make a disease claim without naming the product; weak ones need an anchor
STRONG_TREATMENT_VERBS = (
    r"cur(?:e|es|ed|ing)", r"heal(?:s|ed|ing)?", r"revers(?:e|es|ed|ing)", r"eradicat(?:e|es|ed|ing)",
    r"conquer(?:s|ing)?", r"banish(?:es)?", r"wipes? out", r"unclogs?", r"dissolv(?:e|es|ed|ing)",
    r"shrink(?:s|ing)?", r"end(?:s)?", r"solution (?:to|for)", r"natural relief", r"break free",
    r"recommend\w* (?:it )?(?:to|for) (?:my |our |all )?(?:patients|people|anyone|those)",
)

# efficacy wording that is a claim wherever it appears
EFFICACY_STRONG = (
    r"miracle|breakthrough|revolutionary|don't want you to know|works for everyone|100 ?% effective"
    r"|no (?:side effects|jitters|crash)|(?:lose|losing|lost|drop|drops|dropped) (?:up to )?(?:\d+|\w+) "
    r"(?:lbs|pounds|kg|dress sizes|sizes|inches)|life[- ]changing|ground-?breaking"
)

# sentence-initial claim verbs (bullets and taglines have no subject: "Supports joint comfort")
LEADING_CLAIM_VERBS: tuple[str, ...] = (
    r"supports?", r"promotes?", r"helps?", r"maintains?", r"boosts?", r"burns?", r"blocks?", r"kills?",
    r"protects?", r"heals?", r"stops?", r"lowers?", r"unclogs?", r"prevents?", r"shrinks?", r"reduces?",
    r"relieves?", r"increases?", r"decreases?", r"loosens?", r"relax(?:es)?", r"dampens?", r"improves?",
    r"enhances?", r"sharpens?", r"melts?", r"drops?", r"lose", r"think", r"fall asleep", r"feel",
    r"say goodbye", r"say good night", r"reverses?", r"rebuilds?", r"restores?", r"calms?", r"nourish(?:es)?",
    r"wake up", r"sleep", r"cures?", r"treats?", r"ends?", r"fights?", r"clinically",
    r"scientifically", r"backed", r"rated", r"trusted", r"loved", r"recommended", r"developed",
    r"formulated", r"doctor", r"pediatrician", r"cardiologist", r"gastroenterologist", r"dietitian",
    r"third-party", r"made in",
)

# framing that makes a sentence about goals, difficulty or the article itself, not about the product:
# with it, a disease claim needs the product named ("In order to solve cramps, you have to...")
CLAIM_FRAMING = (
    r"in order to|ways? to|how to|difficult|elusive|hard to|no (?:one|single) (?:definitive )?(?:cause|cure)"
    r"|(?:we|i|this article|this review|this post) (?:will )?(?:explain|explore|discuss|look at)"
)

# negators that cancel a treatment verb or a guarantee right after them (a few words away at most)
NEGATORS: tuple[str, ...] = (
    r"not", r"no", r"never", r"won't", r"wont", r"can't", r"cannot", r"doesn't", r"don't", r"didn't",
    r"isn't", r"aren't", r"wasn't", r"ineffective", r"without", r"nor", r"fail(?:s|ed)? to", r"unable to",
)

# --- disclaimer rules (checked first: the DSHEA text contains "treat, cure") --------------------------
DISCLAIMER_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("fda", "dshea_evaluated", "evaluated approved reviewed fda",
     r"(?:statements?|claims?|products?|representations?) (?:\w+ ){0,6}ha(?:s|ve) not been (?:\w+ ){0,3}"
     r"(?:evaluated|approved|reviewed)|not been evaluated by the (?:fda|food (?:and|&) drug administration)"),
    ("fda", "dshea_not_intended", "diagnose",
     r"not intended to diagnose, ?treat, ?cure,? (?:or|and) prevent any disease"),
    ("fda", "fda_evaluation_notice", "fda food",
     r"(?:fda|food (?:and|&) drug administration) (?:only )?"
     r"(?:evaluates|has not evaluated|does not evaluate)"),
    ("educational", "educational_only", "purposes education information",
     r"(?:educational|informational|information(?:al)?|entertainment) purposes(?: only)?"
     r"|for (?:general )?(?:education|information) only"),
    ("results_vary", "results_vary", "results representative guarantee experience experiences typical"
        " average generally",
     r"results (?:may|will|can|do|might) vary|results (?:are )?not typical|not typical results"
     r"|atypical results|individual results|not representative of (?:all|the typical|typical)"
     r"|do not guarantee (?:similar|the same|specific)|reflect (?:individual|their own) experiences?"
     r"|(?:prior|past) results do not|results not guaranteed|your results may"
     r"|typical (?:customers?|users?|results?|buyers?) (?:lose|see|report|experience|get)"
         r"|on average,? (?:users?|customers?|people)"
     r"|generally expected results"),
    ("medical_advice", "consult_professional", "doctor physician healthcare health medical pharmacist"
        " professional practitioner provider dietitian",
     r"(?:consult|consulting|talk to|talk with|ask|speak (?:with|to)|see|contact|check with|visit)"
     r" (?:with )?(?:your |a |our |the )?(?:qualified )?(?:own )?"
     r"(?:doctor|physician|health ?care|medical|pharmacist|professional|practitioner|provider|dietitian)"),
    ("medical_advice", "not_medical_advice", "medical diagnose treat cure prevent intended",
     r"not (?:a substitute for|intended (?:as|to replace)|meant to replace) (?:professional )?medical"
     r"|not medical advice|not intended to (?:diagnose|treat|cure|prevent)|nothing (?:contained )?"
     r"(?:on|in) this (?:site|page|website) is intended to"),
    ("medical_advice", "warning", "pregnant nursing breastfeeding breast take taking reach exceed use"
        " recommended interact choking adverse drive operate dose dosage guidance supervision seek",
     r"if you are (?:pregnant|nursing|breast-?feeding|taking)|keep out of (?:the )?reach of children"
     r"|do not exceed|not (?:intended )?for use by|not recommended for (?:children|use)"
     r"|do not (?:use|take|drive|operate)|may interact with|to avoid choking|adverse (?:effects|reactions)"
     r"|recommended (?:dose|dosage)s?|under the (?:guidance|supervision) of|seek medical"),
    ("other", "advertising_notice", "advertisement advertorial sponsored paid actor actors portrayal"
        " dramatization dramatisation compensation commission affiliate facebook meta google instagram"
            " trademark trademarks study combined used",
     r"this is an advertisement|advertorial|sponsored (?:content|post|by)|paid (?:actors?|endorse\w*"
         r"|advertisement)"
     r"|actor portrayal|dramati[sz]ation|received (?:no )?compensation|earn (?:a )?commission|affiliate link"
     r"|(?:not (?:a )?part of|not endorsed by|not affiliated with) (?:the )?(?:facebook|meta|google"
         r"|instagram)"
     r"|endorsed by facebook|(?:registered )?trademarks? of|study (?:was )?conducted on"
     r"|should be (?:combined|used) with (?:a sensible|a healthy|diet|regular)"),
    # 16 CFR 255.5: what a reader would not expect of an endorsement (a free product, a fee, an actor), and
    # other legal notices (age limits, a marketplace's own disclaimers, the EU's "varied diet" statement)
    ("other", "endorsement_notice", "free discount discounted complimentary exchange review reviews reviewer"
        " reviewers paid compensated partnership advertisement photo photos image images picture pictures"
        " model models actor actors name names composite associated affiliated older drinking verify"
        " verified accuracy substitute",
     r"(?:free|discount\w*|complimentary)\b[^.;]{0,40}\b(?:in exchange for|for (?:leaving|writing|sharing|posting)"
         r" (?:a |an |their |his |her |my )?(?:honest |unbiased )?(?:review|feedback|testimonial|opinion))"
     r"|review of (?:a )?free product|received (?:this|the|a) (?:product|bottle|sample)\w* (?:for )?free"
     r"|(?:was|were) not (?:paid|compensated)|paid partnership|^advertisement\b"
     r"|(?:photos?|images?|pictures?) (?:are|is|show|shown|depict)\w* (?:of )?(?:models?|actors?)"
     r"|(?:names?|details) (?:have been |has been |were |was )?changed (?:for|to protect)|composite (?:character|story)"
     r"|not (?:associated|affiliated) with|must be (?:18|21) (?:years (?:of age )?)?or older|of legal drinking age"
     r"|(?:does|do) not verify|(?:have|has) not verified"
     r"|(?:substitute|replacement) (?:of|for) (?:a )?(?:varied|balanced) diet"),
)

# --- guarantee rules -----------------------------------------------------------------------------------
GUARANTEE_NEGATION_GATE = "guarantee guaranteed guarantees"
GUARANTEE_NEGATION = r"(?:not|never|no one can|nobody can) (?:be |been )?guarantee[ds]?"
GUARANTEE_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("other", "results_guarantee", "free nothing bottle", r"or (?:it's|its|it is) free"
        r"|or (?:you )?pay nothing|or your next bottle"),
    ("money_back", "money_back", "money refund refunds refunded empty risk store restocking nonrefundable"
        " non return final eligible accepted guarantee questions hassle hassles unopened",
     r"money[- ]?back|your money back|full refund|refund(?:s|ed)? (?:of|your|100|every|the)"
     r"|(?:100 ?%|partial|prompt) refund|(?:we|we'll|will) (?:\w+ )?refund|empty[- ]bottle|even empty"
     r"|risk[- ]free|store credit|restocking fee|non-?refundable|refunds? (?:are|is|will be) "
     r"(?:processed|issued|made)|refunds? exclude|return shipping|final sale|eligible for (?:a )?"
     r"(?:refund|return)|bottles are accepted|guarantee does not apply|no questions asked|no hassles?"
     r"|must be unopened|unopened (?:bottles|products|items)|return (?:it|them|the bottles?|any bottle)"),
    ("other", "subscription_terms", "auto ship deliver renew renews trial cancel cancelled subscription"
        " subscriptions replacement replace enrolled",
     r"auto-?(?:ship|deliver|renew)\w*|free trial|cancel(?:led)? (?:at )?any ?time|until (?:you )?cancel"
     r"|renews? every|subscriptions? (?:orders? )?(?:can|will|are)|free replacement|replace (?:it|the)"
     r"|enrolled in"),
    ("satisfaction", "satisfaction", "satisfaction guarantee guaranteed lifetime",
     r"satisfaction guarantee[d]?|satisfaction is guaranteed|100 ?% satisfaction|(?:\d+|\w+)[- ]"
     r"(?:day|night|week|month|year) guarantee|guarantee[d]? (?:or|you'll love)|lifetime guarantee"
     # "our guarantee has no expiry date", "the promise never expires"
     r"|(?:guarantee|promise) (?:has no|with no|never|does not|doesn't|will never) (?:expiry|expiration|expires?"
     r"|end date|run out)"),
)

# --- claim rules ----------------------------------------------------------------------------------------
AUTHORITY_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("fda", "fda_approved", "fda food",
     r"fda[- ](?:approved|certified|cleared)|approved by the fda|(?:fda|food and drug administration) "
     r"(?:has )?approved"),
    ("fda", "fda_registered", "fda",
     r"fda[- ](?:registered|inspected|compliant)|registered with the fda|inspected by the fda"),
    ("physician", "expert_endorsement", "doctor doctors physician physicians dr cardiologist cardiologists"
        " urologist urologists neurologist neurologists pediatrician pediatricians gastroenterologist"
            " gastroenterologists dietitian dietitians nutritionist pharmacist pharmacists specialist"
                " specialists rheumatologist neuroscientist scientist scientists expert experts surgeon"
                    " naturopath chiropractor",
     r"(?:doctor|physician|dr\.|m\.d\.|cardiologist|urologists?|neurologists?|pediatrician|gastroenterologist"
     r"|dietitian|nutritionist|pharmacists?|specialists?|rheumatologist|neuroscientist|scientists?|experts?"
     r"|surgeon|naturopath|chiropractor)s?[- ](?:recommended|approved|formulated|developed|designed|trained"
     r"|endorsed|trusted|reveals?|says|calls it|top pick)"
     r"|(?:recommended|approved|formulated|developed|designed|endorsed|trusted|created) (?:\w+ ){0,3}"
     r"(?:by|with) (?:a team of |over \d+ |leading |top |board-certified )?(?:dr\.|doctors?|physicians?"
     r"|cardiologists?|urologists?|neurologists?|pediatricians?|gastroenterologists?|dietitians?"
     r"|pharmacists?|specialists?|scientists?|experts?|rheumatologists?|neuroscientists?)"
     r"|dr\. [a-z]+ [a-z]+,? (?:m\.d\.,? |ph\.d\.,? )?(?:says|calls|recommends|a board)"),
    ("celebrity", "celebrity_endorsement", "celebrity tv television endorsed oprah oz",
     r"celebrity|as seen on (?:tv|television)|endorsed by (?:former|actor|actress|star|olympic|nfl|nba)"
     r"|(?:oprah|dr\. oz)"),
    ("government", "government_endorsement", "nih cdc usda government",
     r"(?:nih|cdc|usda|government)[- ](?:funded|recommended|approved|endorsed)"),
    ("organization", "organization_endorsement", "association foundation society institute",
     r"(?:association|foundation|society|institute) (?:recommends|endorses|approved)\w* (?:our|this|it)"
     r"|endorsed by the (?:\w+ ){0,4}(?:association|foundation|society)"),
    ("certification", "certification", "gmp nsf certified organic usda third independent independently ifos"
        " informed",
     r"gmp[- ]certified|nsf[- ]certified|certified organic|usda organic|third[- ]party tested"
     r"|independent(?:ly)? (?:lab|tested)|tested by an independent|ifos|certified for purity"
     r"|informed[- ]sport|certified (?:by|facility)|gmp\b"),
)

CLINICAL_GATE = (
    "clinically scientifically studies study research trial trials evidence data double placebo peer"
    " randomized randomised clinical backed proven demonstrated demonstrate shown"
)
CLINICAL_TRIGGERS = (
    r"clinically (?:proven|studied|tested|shown|researched|validated)|scientifically (?:proven|tested|shown)"
    r"|(?:studies|research|trials?|evidence|data) (?:\w+ ){0,2}(?:show|shows|showed|shown|prove[sn]?"
        r"|suggests?"
    r"|demonstrated?|found|confirms?|concluded)|(?:study|trial) (?:\w+ ){0,5}(?:found|showed|shows|concluded"
    r"|demonstrated)|double-blind|placebo|peer-reviewed|randomi[sz]ed|clinical (?:trials?|studies|study)"
    r"|backed by (?:\w+ ){0,3}(?:science|research|studies|trials?)|proven (?:supplements|formula"
        r"|ingredients?)"
    r"|in (?:clinical )?studies|demonstrated (?:positive|the|a|significant)|been shown in"
)
# a clinical or efficacy claim must say something about an effect
EFFECT_WORDS = (
    r"improv\w*|effects?|effective\w*|reduc\w*|increas\w*|lost|lose|support\w*|boost\w*|absorb\w*|surviv\w*"
    r"|better|more than|compared|versus|placebo|synergistic|rais\w*|cut|results?|\d+ ?%|\d+x|sharpen\w*"
    r"|enhanc\w*|work\w*|relie\w*|benefit\w*|help\w*"
)

EFFICACY_GATE = (
    "miracle breakthrough revolutionary secret want ground groundbreaking life effective everyone benefit"
    " beneficial side jitters crash habit overnight instant instantly immediate immediately little just under"
    " only within 2x 3x 4x 5x 10x twice three lose losing lost drop drops dropped melt melts burn burns"
        " burner"
    " blocks powerful potent strongest purest first world's #1 number maximum faster better readily absorbed"
    " absorb absorbs high feel notice results guaranteed single perfect pure unlike than by up don't"
)
EFFICACY_TRIGGERS = (
    r"miracle|breakthrough|revolutionary|secret|don't want you to know|ground-?breaking|life[- ]changing"
    r"|100 ?% effective|works for everyone|everyone would benefit|beneficial to most|for everyone"
    r"|no (?:side effects|jitters|crash)|non-habit[- ]forming|overnight|instant(?:ly)?"
        r"|immediate(?:ly)?(?! (?:before|prior|after|following))"
    r"|in (?:as little as|just|under|only) (?:\d+|\w+) (?:minutes?|hours?|days?|weeks?)"
    r"|within (?:\d+(?:-\d+)?|\w+|the first) (?:minutes?|hours?|days?|weeks?|month)"
        r"|from the (?:very )?first (?:dose|day|night|use|capsule)|\d+x (?:more|better|faster)"
    r"|(?:twice|three times) as|(?:lose|losing|lost|drop|drops|dropped) (?:up to )?(?:\d+|\w+) "
    r"(?:lbs|pounds|kg|dress sizes|sizes|inches)|melts?|burn(?:s)? fat|fat burner|blocks up to"
    r"|(?:most|more) (?:powerful|potent|effective)|strongest|purest|the only|world's first"
    r"|(?<!rated )(?:#1|number one)(?! (?:selling|best|rated))"
    r"|maximum[- ]strength|(?:reduc|cut|increas|boost|improv|lower|rais|block|burn"
        r"|drop)\w* (?:\w+ ){0,4}?(?:by )?(?:up to )?\d+ ?%"
    r"|faster than|better than|readily absorbed"
    r"|high[- ]absorb\w*|don't absorb well|absorbs? better|feel a difference|notice (?:a|the|easier)"
    r"|results you can feel|guaranteed results|every single night"
    r"|pure, safe|(?:unlike|than) (?:cheap|ordinary|other|prescription|sleeping)"
)

STRUCTURE_FUNCTION_GATE = (
    "support supports supporting promote promotes promoting maintain maintains maintaining help helps"
    " contribute contributes nourish nourishes nourishing enhance enhances improve improves boost boosts"
    " calming relax relaxes relaxing loosen loosens increase increases decrease decreases cope fall restful"
    " sharper deeper quieter feel feeling fuller fullness sleep reduce"
)
STRUCTURE_FUNCTION_TRIGGERS = (
    r"(?:supports?|supporting|promotes?|promoting|maintains?|maintaining|helps? (?:to )?(?:maintain|support"
    r"|promote|relax|you|the body|re-establish|relieve)|contributes? to (?:the )?normal|nourish\w*|enhances?"
    r"|improves?|boosts?|calming effect|relax(?:es|ing)?|loosens?|increases?|decreases? pain|cope with"
    r"|fall asleep|restful sleep|sharper|deeper sleep|quieter nights|feel(?:ing)? fuller|feeling of fullness"
    r"|sleep-wake cycle|reduce symptoms of)"
)
BODY_FUNCTIONS = (
    r"immune|joints?|cartilage|flexibility|movement|mobility|metabolism|blood sugar|fullness|fuller|sleep\w*"
    r"|relaxation|relax|mood|focus|memory|cognitive|brain|energy|stamina|drive|testosterone|digestion"
    r"|regularity|gut|microbiome|bloating|cardiovascular|heart health|triglyceride|cellular|bone|muscles?"
    r"|circulation|serotonin|inflammatory response|defenses|calm\w*|clarity|learning|stress|thinking"
        r"|absorption"
    r"|potassium|metaboli\w*|nights|awakenings|jet lag|pain|blood vessels|melatonin|grogginess|body"
)

SOCIAL_PROOF_GATE = (
    "bottles customers users reviews ratings buyers happy five star stars orders sleepers families people out"
    " rated rating #1 best bestselling selling since trusted loved featured seen repeat average sold"
)
SOCIAL_PROOF_TRIGGERS = (
    r"\d[\d,.]*\s*(?:k|m)?\+?\s*(?:million |thousand )?(?:bottles sold|customers|users|reviews|ratings|buyers"
    r"|happy|five-star|5-star|orders|sleepers|families|people served)"
    r"|\d(?:\.\d)?\s*(?:out of 5|stars?|/ ?5|\*|★)|rated (?:#1|\d)|#1 (?:selling|best|rated)|best-?selling"
    r"|\bsince (?:19|20)\d\d\b|trusted by|loved by|featured (?:in|on)|as seen (?:in|on)|repeat customers"
    r"|average rating|five-star reviews|bottles sold|sold (?:over|more than)"
)

# counters, stock, timers, timestamps: never statements (at most low social proof)
NOISE_PATTERNS = (
    r"(?:people|shoppers|others|visitors) (?:are )?(?:viewing|looking|watching)|viewing this|looking at this"
    r"|left in stock|in stock|only \d+ (?:\w+ )?left|\d+ (?:bottles? )?left|just (?:ordered|bought|purchased)"
    r"|\d+ (?:seconds?|minutes?|hours?) ago|bought this in the last|in the last \d+ hours|(?:sale|offer"
        r"|discount)"
    r" ends|ends in|last updated|updated:?\s|posted (?:on )?|min read|\b\d{1,2}:\d{2}\b|countdown"
    # live tickers: "19 people joined the challenge this week", "212 bought in the past 24 hours"
    r"|\d[\d,]* (?:people|others|customers|shoppers|members|buyers|readers|women|men|folks)"
    r" (?:have |just )?(?:joined|signed up|bought|purchased|ordered|viewed|are (?:viewing|watching|looking|reading))"
    r"|(?:joined|signed up|ordered|purchased|bought|sold) (?:today|this (?:week|hour|morning)|in the (?:last|past)"
    r" (?:\d+ )?(?:hours?|days?|minutes?|week))"
    r"|(?:from|in) [a-z .]+ (?:just )?(?:ordered|purchased|bought|signed up)"
)
# words that every match of NOISE_PATTERNS contains (each alternative above has one of them): a text with none
# of them is not searched with the whole pattern (which tries every position of every sentence). Keep in step.
NOISE_WORDS = (
    "view", "look", "watch", "read", "stock", "left", "just", "ago", "last", "ends", "updated", "posted", "min read",
    ":", "countdown", "joined", "signed up", "bought", "purchased", "ordered", "sold",
)

# testimonial content: a customer's story needs a result in it
TESTIMONIAL_RESULT_WORDS = (
    r"lost|lose|feel|felt|better|sharper|gone|energy|sleep|slept|pain|stopped|quit|off (?:my|two|all|of)"
    r"|no more|younger|new (?:wo)?man|results?|sizes?|pounds|lbs|concentrate|focus|memory|bloat\w*|noticed"
    r"|cancel+ed|walk|moving|missed a day|flare|symptoms|cured|healed|normal|remember|locked in|cramps?"
    r"|swelling|knees?|medication|insulin|doctor|difference|works?|changed|relief|thriving"
)

# guarantee attributes: conditions (name, fragment) and refund wording
GUARANTEE_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("less shipping", r"less (?:shipping|s&h)|minus (?:a )?(?:\$?[\d.]+ )?(?:return )?shipping|shipping "
     r"(?:charges |costs |fees )?(?:are |is )?(?:non-?refundable|not refund\w*)|exclude[sd]? shipping"
     r"|return shipping (?:is|fee)|shipping and handling (?:are|is) not|excluding shipping"),
    ("restocking fee", r"(?:\d+ ?% )?restocking fee"),
    ("unopened only", r"unopened|unused"),
    ("empty bottles accepted", r"empty[- ]bottle|even empty|empty (?:and|or) (?:partially )?used|empty ones"),
    ("first order only", r"first (?:order|purchase)"),
    ("store credit only", r"store credit"),
    ("no questions asked", r"no questions asked|no hassles?"),
    ("window from delivery", r"(?:from|of|after) (?:the )?deliver\w*|(?:from|of) receipt"),
    ("window from purchase",
     r"(?:from|of) (?:your |the )?(?:date of )?(?:purchase|order)(?: date)?(?! price)"),
    ("final sale items", r"final sale"),
    ("excludes third-party sellers", r"third-party sellers|amazon"),
)
REFUND_REDUCERS = (
    r"less (?:shipping|s&h)|minus|restocking fee|store credit|partial refund|exclude[sd]? shipping"
    r"|deduct\w*|handling fee|non-?refundable|excluding shipping"
)
REFUND_100 = r"100 ?% (?:money[- ]?back|refund|of (?:your|the) (?:purchase|money|price))|refund 100 ?%"
REFUND_FULL = (
    r"full refund|entire purchase|full purchase price|refund of the (?:full |product |purchase )?price"
    r"|every penny|all (?:of )?your money"
)

# DSHEA wording, folded to keys (see keys.statement_key) for the verbatim check
DSHEA_FIRST = (
    "this statement has not been evaluated by the food and drug administration",
    "these statements have not been evaluated by the food and drug administration",
)
DSHEA_SECOND = (
    "this product is not intended to diagnose treat cure or prevent any disease",
    "these products are not intended to diagnose treat cure or prevent any disease",
)

# abbreviations that do not end a sentence
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "mt", "ft", "no", "vs", "e.g", "i.e", "eg",
        "ie", "mg", "mcg", "g", "oz", "lb", "lbs", "fl", "approx", "fig",
        "u.s", "u.s.a", "u.k", "m.d", "ph.d", "r.d", "d.o", "n.d", "b.s", "m.s", "a.m", "p.m", "jan", "feb",
        "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "dept", "est", "vol", "ref",
        "al", "cf", "n.n.i", "cfu", "iu",
    }
)
